import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Config } from '../../config';
import { AccountToken, ApiKey, Membership, Organization, RefreshToken, User } from '../../entities';
import { consumeAccountToken, createAccountToken } from '../../entities/account-tokens';
import { grantPeriodCredits } from '../../entities/credit-ledger';
import { entitlementsOf } from '../../domain/plans';
import { HttpError } from '../http/errors';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords';
import { newOpaqueToken, sha256, signAccessToken } from './tokens';
import { forgetCallers } from './caller-cache';

type AuthConfig = Pick<Config, 'JWT_SECRET' | 'JWT_ACCESS_TTL_SECONDS' | 'REFRESH_TOKEN_TTL_DAYS' | 'PASSWORD_HASH_MEMORY_KIB' | 'EMAIL_VERIFICATION_TTL_HOURS'>;

export interface IssuedTokens {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

export function createAuthService(config: AuthConfig) {
  async function issueTokens(em: EntityManager, user: User, familyId: string = randomUUID(), userAgent?: string): Promise<IssuedTokens> {
    const refresh = newOpaqueToken('rt');
    em.create(RefreshToken, {
      user,
      familyId,
      tokenHash: refresh.hash,
      expiresAt: new Date(Date.now() + config.REFRESH_TOKEN_TTL_DAYS * 86_400_000),
      userAgent: userAgent?.slice(0, 255) ?? null,
    });
    await em.flush();
    return {
      accessToken: signAccessToken(config.JWT_SECRET, config.JWT_ACCESS_TTL_SECONDS, user.id, user.tokenVersion),
      refreshToken: refresh.token,
      tokenType: 'Bearer',
      expiresIn: config.JWT_ACCESS_TTL_SECONDS,
    };
  }

  /** Serialises every rotation and revocation of one login (family) until the transaction ends. */
  async function lockFamily(tx: EntityManager, familyId: string) {
    await tx.getConnection().execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`refresh:${familyId}`], 'get', tx.getTransactionContext());
  }

  async function revokeFamily(em: EntityManager, familyId: string) {
    await em.transactional(async (tx) => {
      await lockFamily(tx, familyId);
      await tx.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
    });
  }

  return {
    /**
     * Creates the user, their own organization (stable), free-plan credits (spendable once
     * the email is verified) and the verification token in one transaction. The caller
     * emails the token after the commit (`verificationTokenId`).
     */
    async register(em: EntityManager, input: { email: string; password: string; firstName: string; lastName: string }) {
      const passwordHash = await hashPassword(input.password, config.PASSWORD_HASH_MEMORY_KIB);
      try {
        return await em.transactional(async (tx) => {
          if (await tx.count(User, { email: input.email })) {
            throw new HttpError(409, 'An account with this email already exists', [{ location: 'body', field: 'email', message: 'is already registered' }]);
          }
          const user = tx.create(User, { email: input.email, passwordHash, firstName: input.firstName, lastName: input.lastName });
          const org = tx.create(Organization, { name: `${input.firstName}'s stable`, ownerId: user.id });
          tx.create(Membership, { organization: org, user, role: 'owner' });
          await tx.flush();
          await grantPeriodCredits(tx, user.id, entitlementsOf('free').monthlyAnalysisCredits, `grant:${user.id}:signup`, 'free plan on signup');
          const verification = createAccountToken(tx, config.JWT_SECRET, { userId: user.id, purpose: 'verify-email', ttlMs: config.EMAIL_VERIFICATION_TTL_HOURS * 3_600_000 });
          await tx.flush();
          return { user, verificationTokenId: verification.id };
        });
      } catch (err) {
        if (err instanceof UniqueConstraintViolationException) {
          throw new HttpError(409, 'An account with this email already exists', [{ location: 'body', field: 'email', message: 'is already registered' }]);
        }
        throw err;
      }
    },

    async login(em: EntityManager, email: string, password: string, userAgent?: string) {
      const user = await em.findOne(User, { email });
      const ok = user ? await verifyPassword(user.passwordHash, password) : await verifyPassword(await dummyPasswordHash(config.PASSWORD_HASH_MEMORY_KIB), password);
      if (!user || !ok) throw new HttpError(401, 'Email or password is incorrect');
      user.lastLoginAt = new Date();
      return { user, tokens: await issueTokens(em, user, undefined, userAgent) };
    },

    /**
     * Rotates a refresh token in one transaction that holds the family's lock: the claim,
     * the reuse check (which revokes the family) and the issue of the next token cannot
     * interleave, so when a thief and the user race with one token, the loser's reuse
     * revokes the family AFTER the winner's new token exists — the winner is signed out too.
     */
    async refresh(em: EntityManager, token: string, userAgent?: string) {
      const found = await em.fork().findOne(RefreshToken, { tokenHash: sha256(token) });
      if (!found) throw new HttpError(401, 'Unknown refresh token');
      const familyId = found.familyId;
      const outcome = await em.transactional(async (tx) => {
        await lockFamily(tx, familyId);
        const row = await tx.findOneOrFail(RefreshToken, { id: found.id }, { populate: ['user'], refresh: true });
        if (row.revokedAt || row.usedAt) {
          await revokeFamily(tx, familyId);
          return { reused: true as const };
        }
        if (row.expiresAt.getTime() <= Date.now()) return { expired: true as const };
        row.usedAt = new Date();
        const user = row.user as User;
        return { user, tokens: await issueTokens(tx, user, familyId, userAgent) };
      });
      // Thrown after the commit, so the family revocation is kept.
      if ('reused' in outcome) throw new HttpError(401, 'Refresh token was already used: every session of this login was revoked, sign in again');
      if ('expired' in outcome) throw new HttpError(401, 'Refresh token expired: sign in again');
      return outcome;
    },

    /** Ends the login the refresh token belongs to. Unknown tokens are accepted silently. */
    async logout(em: EntityManager, token: string, userId: string) {
      const row = await em.findOne(RefreshToken, { tokenHash: sha256(token), user: userId });
      if (row) await revokeFamily(em, row.familyId);
    },

    /** Changes the password, ends every other session and old access tokens, returns fresh tokens. */
    async changePassword(em: EntityManager, userId: string, currentPassword: string, newPassword: string, userAgent?: string) {
      const user = await em.findOneOrFail(User, { id: userId });
      if (!(await verifyPassword(user.passwordHash, currentPassword))) {
        throw new HttpError(422, 'Current password is incorrect', [{ location: 'body', field: 'currentPassword', message: 'does not match' }]);
      }
      if (currentPassword === newPassword) {
        throw new HttpError(400, 'New password must differ from the current one', [{ location: 'body', field: 'newPassword', message: 'is the same as the current password' }]);
      }
      user.passwordHash = await hashPassword(newPassword, config.PASSWORD_HASH_MEMORY_KIB);
      user.tokenVersion += 1;
      await em.nativeUpdate(RefreshToken, { user: userId, revokedAt: null }, { revokedAt: new Date() });
      // A key minted by whoever knew the old password must not outlive it.
      await em.nativeUpdate(ApiKey, { user: userId, revokedAt: null }, { revokedAt: new Date() });
      await em.flush();
      return { user, tokens: await issueTokens(em, user, undefined, userAgent) };
    },

    /**
     * Uses a reset link: the new password is set, the address counts as verified (the link
     * proved it), every session (refresh token), old access token and API key stops working,
     * and every other reset link of the user is used up. One transaction; the token is
     * consumed by a conditional update, so two requests with one link cannot both succeed.
     */
    async resetPassword(em: EntityManager, token: string, newPassword: string) {
      const passwordHash = await hashPassword(newPassword, config.PASSWORD_HASH_MEMORY_KIB);
      const outcome = await em.transactional(async (tx) => {
        const consumed = await consumeAccountToken(tx, token, 'reset-password');
        if (!consumed.ok) return consumed;
        const now = new Date();
        await tx
          .getConnection()
          .execute(
            'update users set password_hash = ?, token_version = token_version + 1, email_verified_at = coalesce(email_verified_at, now()), updated_at = now() where id = ?',
            [passwordHash, consumed.userId],
            'run',
            tx.getTransactionContext(),
          );
        await tx.nativeUpdate(RefreshToken, { user: consumed.userId, revokedAt: null }, { revokedAt: now });
        await tx.nativeUpdate(ApiKey, { user: consumed.userId, revokedAt: null }, { revokedAt: now });
        await tx.nativeUpdate(AccountToken, { user: consumed.userId, purpose: 'reset-password', usedAt: null }, { usedAt: now });
        return consumed;
      });
      if (!outcome.ok) throw invalidLink(outcome.reason, 'password reset', 'POST /api/auth/password-reset');
      // Written with SQL, not through a User flush: forget the cached caller ourselves.
      forgetCallers(outcome.userId);
      return outcome;
    },

    /** Uses a verification link (no sign-in needed: the link proves the address). */
    async verifyEmail(em: EntityManager, token: string) {
      const outcome = await em.transactional(async (tx) => {
        const consumed = await consumeAccountToken(tx, token, 'verify-email');
        if (!consumed.ok) return consumed;
        await tx
          .getConnection()
          .execute('update users set email_verified_at = coalesce(email_verified_at, now()), updated_at = now() where id = ?', [consumed.userId], 'run', tx.getTransactionContext());
        return consumed;
      });
      if (!outcome.ok) throw invalidLink(outcome.reason, 'verification', 'POST /api/auth/verification/resend');
      forgetCallers(outcome.userId);
      return outcome;
    },
  };
}

function invalidLink(reason: 'invalid' | 'expired', what: string, again: string) {
  const message = reason === 'expired' ? `This ${what} link has expired: ask for a new one (${again})` : `This ${what} link is invalid or was already used: ask for a new one (${again})`;
  // A well-formed token that is unknown, used or expired is refused by what is stored: 422
  // (400 is for a request that breaks the API document, such as a malformed token).
  return new HttpError(422, message, [{ location: 'body', field: 'token', message: reason === 'expired' ? 'has expired' : 'is invalid or already used' }]);
}

export type AuthService = ReturnType<typeof createAuthService>;
