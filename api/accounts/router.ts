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
import {
  Accepted,
  ChangePasswordBody,
  CreateApiKeyBody,
  LoginBody,
  PasswordResetBody,
  PasswordResetRequestBody,
  RefreshBody,
  RegisterBody,
  TokenPair,
  UserView,
  VerifyEmailBody,
} from './schemas';
import { dummyPasswordHash } from './passwords';
import { createAccountEmails } from './email-links';
import { actionsRequired } from './verified';
import { startWelcome as startWelcomeWorkflow } from '../../workflows/accounts/client';

export function createAuthRouter(deps: AppDeps, opts: { registry: OpenAPIRegistry; authenticate: RequestHandler; authRateLimit: RequestHandler }) {
  const router = Router();
  const r = routeBuilder({ router, registry: opts.registry, basePath: '/api/auth', tag: 'auth', authenticate: opts.authenticate });
  const auth = createAuthService(deps.config);
  const emails = createAccountEmails(deps);
  const limited = [opts.authRateLimit];

  async function userView(em: EntityManager, user: User) {
    const authUser = await loadAuthUser(deps.orm, user.id, 'jwt');
    if (!authUser) throw new HttpError(404, 'User not found');
    const { memberships, via: _via, tokenVersion: _tv, ...profile } = authUser;
    return { ...profile, actionsRequired: actionsRequired(authUser), organizations: memberships, credits: await getBalance(em, user.id) };
  }
  const pair = async (em: EntityManager, user: User, tokens: IssuedTokens) => ({ ...tokens, user: await userView(em, user) });

  r.post(
    '/register',
    {
      summary: 'Create an account and its own organization (stable); a verification link is emailed',
      description: 'The account can sign in at once; spending credits and sending or accepting invitations wait until the emailed link is used (POST /api/auth/verification/confirm).',
      auth: false,
      body: RegisterBody,
      status: 201,
      response: TokenPair,
      errors: [409, 429],
      middleware: limited,
    },
    async ({ body, em, req }) => {
      const { user, verificationTokenId } = await auth.register(em, body);
      await startWelcome(deps, user.id, req.log);
      // Committed already: if Temporal is unreachable the account stands, and /me points at the resend.
      await emails.send({ kind: 'verify-email', id: verificationTokenId }, req.log);
      const { tokens } = await auth.login(em.fork(), body.email, body.password, req.get('user-agent'));
      return pair(em, user, tokens);
    },
  );

  r.post('/login', { summary: 'Sign in with email and password', auth: false, body: LoginBody, response: TokenPair, errors: [401, 429], middleware: limited }, async ({ body, em, req }) => {
    const { user, tokens } = await auth.login(em, body.email, body.password, req.get('user-agent'));
    await em.flush();
    return pair(em, user, tokens);
  });

  r.post(
    '/refresh',
    { summary: 'Exchange a refresh token for a new pair (the old one stops working)', auth: false, body: RefreshBody, response: TokenPair, errors: [401, 429], middleware: limited },
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

  r.post(
    '/verification/resend',
    {
      summary: 'Email a new verification link',
      description: 'At most ACCOUNT_EMAILS_PER_HOUR links per hour (the one sent at register counts); 429 with Retry-After beyond. 409 when already verified.',
      status: 202,
      response: Accepted,
      errors: [409, 429, 503],
      middleware: limited,
    },
    async ({ em, user, req, res }) => {
      const account = await em.findOneOrFail(User, { id: user.id });
      if (account.emailVerifiedAt) throw new HttpError(409, 'Your email address is already confirmed');
      const issued = await emails.issuePaced(em, user.id, 'verify-email');
      if ('retryAfterSeconds' in issued) {
        res.setHeader('Retry-After', String(issued.retryAfterSeconds));
        throw new HttpError(429, `Too many verification emails: at most ${deps.config.ACCOUNT_EMAILS_PER_HOUR} per hour, try again in ${issued.retryAfterSeconds}s`);
      }
      if (!(await emails.send({ kind: 'verify-email', id: issued.tokenId }, req.log))) {
        await emails.discard(em, issued.tokenId);
        throw new HttpError(503, 'Could not queue the verification email; nothing was sent, try again shortly');
      }
      return { message: `A new verification link is on its way to ${account.email}` };
    },
  );

  r.post(
    '/verification/confirm',
    {
      summary: 'Confirm the email address with the emailed token (single use, expiring; no sign-in needed)',
      auth: false,
      body: VerifyEmailBody,
      response: z.object({ emailVerified: z.literal(true) }),
      errors: [429],
      middleware: limited,
    },
    async ({ body, em }) => {
      await auth.verifyEmail(em, body.token);
      return { emailVerified: true as const };
    },
  );

  r.post(
    '/password-reset',
    {
      summary: 'Email a password reset link; the same 202 whether or not the address has an account',
      description:
        'Never tells whether an account exists: the answer, its status and its timing (one argon2 verification on every path; the lookup and the link are made after the answer) are the same. At most ACCOUNT_EMAILS_PER_HOUR links per account per hour; beyond, the answer is still 202 and nothing is sent.',
      auth: false,
      body: PasswordResetRequestBody,
      status: 202,
      response: Accepted,
      errors: [429],
      middleware: limited,
    },
    async ({ body, em, req }) => {
      // The answer waits for one argon2 verification on both paths and for nothing else: the
      // lookup, token insert and workflow start begin once the answer is on its way. Waiting
      // for them (or running them beside the argon2 wait, on the same event loop) made a known
      // address answer slower than an unknown one (bench/password-reset-timing.ts: 0.52×, then
      // 0.79×), which tells an attacker the account exists. A crash before the link is made
      // loses that link (the person asks again); a token whose workflow never started is sent
      // by the account-emails reconcile.
      await dummyPasswordHash(deps.config.PASSWORD_HASH_MEMORY_KIB).then((h) => verifyPassword(h, body.email));
      const issueLink = async () => {
        const account = await em.findOne(User, { email: body.email });
        if (!account) return;
        const issued = await emails.issuePaced(em, account.id, 'reset-password');
        if ('tokenId' in issued && !(await emails.send({ kind: 'reset-password', id: issued.tokenId }, req.log))) await emails.discard(em, issued.tokenId);
      };
      // setImmediate: after this handler's answer is written to the socket.
      setImmediate(() => void issueLink().catch((err: unknown) => req.log.error({ err }, 'password reset request failed')));
      return { message: 'If an account uses this address, a reset link is on its way. It works once and expires soon.' };
    },
  );

  r.post(
    '/password-reset/confirm',
    {
      summary: 'Set a new password with the emailed token; every session and API key ends',
      description: 'Single use and expiring. Signs out every session (refresh and access tokens), revokes every API key, marks the address verified, and emails a notice.',
      auth: false,
      body: PasswordResetBody,
      status: 204,
      errors: [429],
      middleware: limited,
    },
    async ({ body, em, req }) => {
      const { tokenId } = await auth.resetPassword(em, body.token, body.newPassword);
      await emails.send({ kind: 'password-reset-notice', id: tokenId }, req.log);
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
      errors: [400, 403, 422],
      middleware: limited,
    },
    async ({ body, em, user }) => {
      const account = await em.findOneOrFail(User, { id: user.id });
      if (!(await verifyPassword(account.passwordHash, body.currentPassword))) {
        throw new HttpError(422, 'Current password is incorrect', [{ location: 'body', field: 'currentPassword', message: 'does not match' }]);
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
