import { Router, type RequestHandler } from 'express';
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import { routeBuilder, IdParams } from '../http/route';
import { HttpError } from '../http/errors';
import { ApiKey, User } from '../../entities';
import { getBalance } from '../../entities/credit-ledger';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createAuthService, type IssuedTokens } from './service';
import { loadAuthUser } from './passport';
import { newOpaqueToken } from './tokens';
import { verifyPassword } from './passwords';
import { API_KEY_SCOPES } from '../../domain/api-keys';
import { ChangePasswordBody, CreateApiKeyBody, LoginBody, RefreshBody, RegisterBody, TokenPair, UserView } from './schemas';
import { startWelcome as startWelcomeWorkflow } from '../../workflows/accounts/client';

export function createAuthRouter(deps: AppDeps, opts: { registry: OpenAPIRegistry; authenticate: RequestHandler; authRateLimit: RequestHandler }) {
  const router = Router();
  const r = routeBuilder({ router, registry: opts.registry, basePath: '/api/auth', tag: 'auth', authenticate: opts.authenticate });
  const auth = createAuthService(deps.config);
  const limited = [opts.authRateLimit];

  async function userView(em: EntityManager, user: User) {
    const authUser = await loadAuthUser(deps.orm, user.id, 'jwt');
    if (!authUser) throw new HttpError(404, 'User not found');
    const { memberships, via: _via, tokenVersion: _tv, ...profile } = authUser;
    return { ...profile, organizations: memberships, credits: await getBalance(em, user.id) };
  }
  const pair = async (em: EntityManager, user: User, tokens: IssuedTokens) => ({ ...tokens, user: await userView(em, user) });

  r.post(
    '/register',
    { summary: 'Create an account and its own organization (stable)', auth: false, body: RegisterBody, status: 201, response: TokenPair, errors: [409, 429], middleware: limited },
    async ({ body, em, req }) => {
      const user = await auth.register(em, body);
      await startWelcome(deps, user.id, req.log);
      const { tokens } = await auth.login(em.fork(), body.email, body.password, req.get('user-agent'));
      return pair(em, user, tokens);
    },
  );

  r.post('/login', { summary: 'Sign in with email and password', auth: false, body: LoginBody, response: TokenPair, errors: [429], middleware: limited }, async ({ body, em, req }) => {
    const { user, tokens } = await auth.login(em, body.email, body.password, req.get('user-agent'));
    await em.flush();
    return pair(em, user, tokens);
  });

  r.post(
    '/refresh',
    { summary: 'Exchange a refresh token for a new pair (the old one stops working)', auth: false, body: RefreshBody, response: TokenPair, errors: [429], middleware: limited },
    async ({ body, em, req }) => {
      const { user, tokens } = await auth.refresh(em, body.refreshToken, req.get('user-agent'));
      return pair(em, user, tokens);
    },
  );

  r.post('/logout', { summary: 'End the session of a refresh token', body: RefreshBody, status: 204 }, async ({ body, em, user }) => {
    await auth.logout(em, body.refreshToken, user.id);
  });

  r.get('/me', { summary: 'The signed-in user', response: UserView }, async ({ em, user }) => {
    const row = await em.findOne(User, { id: user.id });
    if (!row) throw new HttpError(404, 'User not found');
    return userView(em, row);
  });

  r.post(
    '/change-password',
    { summary: 'Change the password; other sessions end, a fresh token pair is returned', body: ChangePasswordBody, response: TokenPair, middleware: limited },
    async ({ body, em, user, req }) => {
      const result = await auth.changePassword(em, user.id, body.currentPassword, body.newPassword, req.get('user-agent'));
      return pair(em, result.user, result.tokens);
    },
  );

  const ApiKeyView = z.object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string(),
    scopes: z.array(z.string()),
    createdAt: z.date(),
    expiresAt: z.date().nullable(),
    lastUsedAt: z.date().nullable(),
  });
  const keyView = (k: ApiKey) => ({ id: k.id, name: k.name, prefix: k.prefix, scopes: k.scopes, createdAt: k.createdAt, expiresAt: k.expiresAt ?? null, lastUsedAt: k.lastUsedAt ?? null });
  r.post(
    '/api-keys',
    {
      summary: 'Create an API key (shown once); needs the current password',
      description: `Scopes: ${API_KEY_SCOPES.join(', ')}. \`read\` reads every feature; a feature scope reads and writes that feature. Keys never manage keys or passwords. Optional \`expiresAt\`. A password change or reset revokes every key.`,
      body: CreateApiKeyBody,
      status: 201,
      response: ApiKeyView.extend({ key: z.string() }),
      errors: [400, 403],
      middleware: limited,
    },
    async ({ body, em, user }) => {
      const account = await em.findOneOrFail(User, { id: user.id });
      if (!(await verifyPassword(account.passwordHash, body.currentPassword))) {
        throw new HttpError(400, 'Current password is incorrect', [{ location: 'body', field: 'currentPassword', message: 'does not match' }]);
      }
      const { token, hash } = newOpaqueToken('htk');
      const row = em.create(ApiKey, { user: user.id, name: body.name, prefix: token.slice(0, 10), keyHash: hash, scopes: body.scopes, expiresAt: body.expiresAt ?? null });
      await em.flush();
      return { ...keyView(row), key: token };
    },
  );
  r.get('/api-keys', { summary: 'List my API keys', response: z.array(ApiKeyView) }, async ({ em, user }) => {
    const rows = await em.find(ApiKey, { user: user.id, revokedAt: null }, { orderBy: { createdAt: 'desc' } });
    return rows.map(keyView);
  });
  r.delete('/api-keys/:id', { summary: 'Revoke an API key', params: IdParams, status: 204, errors: [404] }, async ({ em, user, params }) => {
    const updated = await em.nativeUpdate(ApiKey, { id: params.id, user: user.id, revokedAt: null }, { revokedAt: new Date() });
    if (!updated) throw new HttpError(404, 'API key not found');
  });

  return router;
}

/**
 * Starts the welcome workflow. The account already exists, so a Temporal outage must not
 * fail the register: it is logged, and a second start later finds the same id.
 */
async function startWelcome(deps: AppDeps, userId: string, log: { error: (o: object, m: string) => void }) {
  try {
    const client = await deps.temporal.client();
    await startWelcomeWorkflow(client, userId);
  } catch (err) {
    log.error({ err, userId }, 'could not start the welcome workflow');
  }
}
