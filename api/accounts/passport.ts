import passport from 'passport';

type Passport = InstanceType<typeof passport.Passport>;
import { Strategy as JwtStrategy, ExtractJwt } from 'passport-jwt';
import { HeaderAPIKeyStrategy } from 'passport-headerapikey';
import type { RequestHandler } from 'express';
import type { MikroORM } from '../../entities/orm';
import { createSecretKey } from 'node:crypto';
import type { EventSubscriber, FlushEventArgs } from '@mikro-orm/core';
import { ApiKey, Membership, User } from '../../entities';
import { CallerCache, forgetCallers, registerCallerCache } from './caller-cache';
import type { AuthUser } from './types';
import type { AccessClaims } from './tokens';
import { sha256 } from './tokens';
import { HttpError } from '../http/errors';
import { apiKeyRefusal } from '../../domain/api-keys';

type LoadedCaller = AuthUser & { tokenVersion: number };

/**
 * Any User or Membership written through this process's ORM (password change, plan, role,
 * member added or removed) makes the caller caches forget that user at once; only changes
 * made elsewhere wait for the TTL.
 */
const forgetChangedCallers: EventSubscriber = {
  getSubscribedEntities: () => [User, Membership],
  afterFlush(args: FlushEventArgs) {
    const ids = new Set<string>();
    for (const cs of args.uow.getChangeSets()) {
      const e = cs.entity as { id?: string; user?: { id?: string } | string };
      if (cs.meta.className === 'User' && e.id) ids.add(e.id);
      else if (cs.meta.className === 'Membership') {
        const user = typeof e.user === 'string' ? e.user : e.user?.id;
        if (user) ids.add(user);
      }
    }
    if (ids.size) forgetCallers(...ids);
  },
};

interface CallerRow {
  id: string;
  email: string;
  first_name: string;
  last_name: string;
  plan: AuthUser['plan'];
  token_version: number;
  email_verified: boolean;
  memberships: { organizationId: string; role: AuthUser['memberships'][number]['role'] }[];
}

/**
 * The user and their memberships in ONE statement and no unit of work: this runs on every
 * authenticated request, where two ORM queries with entity hydration cost more CPU than the
 * route itself (bench/api-auth.ts profile).
 */
const CALLER_SQL = `select u.id, u.email, u.first_name, u.last_name, u.plan, u.token_version, u.email_verified_at is not null as email_verified,
       coalesce((select json_agg(json_build_object('organizationId', m.organization_id, 'role', m.role) order by m.created_at, m.id)
                   from memberships m where m.user_id = u.id), '[]'::json) as memberships
  from users u
 where u.id = ?`;

export async function loadAuthUser(orm: MikroORM, userId: string, via: AuthUser['via']): Promise<LoadedCaller | null> {
  const [row] = (await orm.em.getConnection().execute(CALLER_SQL, [userId])) as CallerRow[];
  if (!row) return null;
  const memberships = row.memberships;
  const own = memberships.find((m) => m.role === 'owner');
  return {
    id: row.id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    plan: row.plan,
    emailVerified: row.email_verified,
    memberships,
    defaultOrganizationId: own?.organizationId ?? memberships[0]?.organizationId ?? null,
    via,
    tokenVersion: row.token_version,
  };
}

/**
 * A Passport instance of our own (not the global one) with the JWT and API-key strategies.
 * JWT callers are remembered for `cacheTtlSeconds` (see caller-cache.ts for the trade-off).
 */
export function createPassport(orm: MikroORM, jwtSecret: string, cacheTtlSeconds = 0): Passport {
  const instance = new passport.Passport();
  const callers = new CallerCache<LoadedCaller>(cacheTtlSeconds * 1000);
  registerCallerCache(callers as CallerCache<unknown>);
  if (callers.enabled) orm.em.getEventManager().registerSubscriber(forgetChangedCallers);
  // One caller query per user in flight at a time (caller-cache.ts `load`).
  const loadCaller = (userId: string): Promise<LoadedCaller | null> => callers.load(userId, () => loadAuthUser(orm, userId, 'jwt'));
  instance.use(
    'jwt',
    new JwtStrategy(
      {
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        // A KeyObject made once: given the string, jsonwebtoken builds one on every verify.
        secretOrKey: createSecretKey(Buffer.from(jwtSecret, 'utf8')) as unknown as string,
        algorithms: ['HS256'],
        issuer: 'horse-tempo',
      },
      (claims: AccessClaims, done: (err: unknown, user?: AuthUser | false, info?: unknown) => void) => {
        if (claims.typ !== 'access') return done(null, false, { message: 'not an access token' });
        loadCaller(claims.sub).then(
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
