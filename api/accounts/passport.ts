import passport from 'passport';

type Passport = InstanceType<typeof passport.Passport>;
import { Strategy as JwtStrategy, ExtractJwt } from 'passport-jwt';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import type { RequestHandler } from 'express';
import type { MikroORM } from '../../entities/orm';
import { ApiKey, Membership, User } from '../../entities';
import type { AuthUser } from './types';
import type { AccessClaims } from './tokens';
import { sha256 } from './tokens';
import { HttpError } from '../http/errors';
import { apiKeyRefusal } from '../../domain/api-keys';

export async function loadAuthUser(orm: MikroORM, userId: string, via: AuthUser['via']): Promise<(AuthUser & { tokenVersion: number }) | null> {
  const em = orm.em.fork();
  const user = await em.findOne(User, { id: userId });
  if (!user) return null;
  const memberships = await em.find(Membership, { user: userId }, { orderBy: { createdAt: 'asc' } });
  const own = memberships.find((m) => m.role === 'owner');
  return {
    id: user.id,
    email: user.email,
    firstName: user.firstName,
    lastName: user.lastName,
    plan: user.plan,
    memberships: memberships.map((m) => ({ organizationId: m.organization.id, role: m.role })),
    defaultOrganizationId: own?.organization.id ?? memberships[0]?.organization.id ?? null,
    via,
    tokenVersion: user.tokenVersion,
  };
}

/** A Passport instance of our own (not the global one) with the JWT and API-key strategies. */
export function createPassport(orm: MikroORM, jwtSecret: string): Passport {
  const instance = new passport.Passport();
  instance.use(
    'jwt',
    new JwtStrategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKey: jwtSecret,
        algorithms: ['HS256'],
        issuer: 'horse-tempo',
      },
      (claims: AccessClaims, done: (err: unknown, user?: AuthUser | false, info?: unknown) => void) => {
        if (claims.typ !== 'access') return done(null, false, { message: 'not an access token' });
        loadAuthUser(orm, claims.sub, 'jwt').then(
          (user) => {
            if (!user) return done(null, false, { message: 'user no longer exists' });
            if (user.tokenVersion !== claims.tv) return done(null, false, { message: 'token was revoked by a password change' });
            const { tokenVersion: _tv, ...authUser } = user;
            done(null, authUser);
          },
          (err) => done(err),
        );
      },
    ),
  );
  instance.use(
    'apiKey',
    new HeaderAPIKeyStrategy({ header: 'X-API-Key', prefix: '' }, false, (key, done) => {
      (async () => {
        const em = orm.em.fork();
        const row = await em.findOne(ApiKey, { keyHash: sha256(key), revokedAt: null });
        if (!row || (row.expiresAt && row.expiresAt.getTime() <= Date.now())) return null;
        row.lastUsedAt = new Date();
        await em.flush();
        const user = await loadAuthUser(orm, row.user.id, 'apiKey');
        if (!user) return null;
        const { tokenVersion: _tv, ...authUser } = user;
        return { ...authUser, scopes: row.scopes };
      })().then(
        (user) => (user ? done(null, user) : done(null, false)),
        (err) => done(err as Error),
      );
    }),
  );
  return instance;
}

/** Middleware: a valid Bearer access token or X-API-Key, else 401 with a reason. */
export function authenticate(instance: Passport): RequestHandler {
  return (req, res, next) => {
    const hasBearer = /^bearer\s+\S+/i.test(req.headers.authorization ?? '');
    const hasKey = typeof req.headers['x-api-key'] === 'string';
    if (!hasBearer && !hasKey) {
      return next(new HttpError(401, 'Authentication required: send "Authorization: Bearer <accessToken>" or "X-API-Key: <key>"'));
    }
    instance.authenticate(hasBearer ? 'jwt' : 'apiKey', { session: false }, (err: unknown, user: AuthUser | false, info: unknown) => {
      if (err) return next(err);
      if (!user) {
        const reason = (info as { message?: string; name?: string } | undefined)?.message ?? 'invalid credentials';
        const message = hasBearer
          ? reason === 'jwt expired'
            ? 'Access token expired: get a new one from POST /api/auth/refresh'
            : `Invalid access token: ${reason}`
          : 'Invalid, expired or revoked API key';
        return next(new HttpError(401, message));
      }
      if (user.via === 'apiKey') {
        // Every authenticated route passes here, so scopes hold everywhere (baseUrl + path is the
        // route as mounted, after any legacy-path rewrite).
        const refusal = apiKeyRefusal(user.scopes ?? [], req.method, `${req.baseUrl}${req.path}`);
        if (refusal) return next(new HttpError(403, refusal));
      }
      req.user = user;
      next();
    })(req, res, next);
  };
}
