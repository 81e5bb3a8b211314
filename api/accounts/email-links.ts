import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import { AccountToken, type AccountTokenPurpose } from '../../entities';
import { createAccountToken } from '../../entities/account-tokens';
import { startAccountEmail } from '../../workflows/accounts/client';
import type { AccountEmailInput } from '../../workflows/accounts/messages';

type Log = { error: (o: object, m: string) => void };

/**
 * Emailed links from the API's side: issuing a paced token and starting the email workflow
 * once the row is committed (the workflow reads everything else from the database).
 */
export function createAccountEmails(deps: AppDeps) {
  const ttlMs = (purpose: AccountTokenPurpose) =>
    purpose === 'verify-email' ? deps.config.EMAIL_VERIFICATION_TTL_HOURS * 3_600_000 : deps.config.PASSWORD_RESET_TTL_MINUTES * 60_000;

  return {
    /** Starts the email; false (and logged) when Temporal is unreachable. */
    async send(input: AccountEmailInput, log: Log): Promise<boolean> {
      try {
        await startAccountEmail(await deps.temporal.client(), input);
        return true;
      } catch (err) {
        log.error({ err, kind: input.kind, id: input.id }, 'could not start the account email workflow');
        return false;
      }
    },

    /**
     * A new token unless the account already got ACCOUNT_EMAILS_PER_HOUR of this purpose in
     * the last hour. Runs under a per-account lock, so concurrent requests count each other.
     */
    async issuePaced(em: EntityManager, userId: string, purpose: AccountTokenPurpose): Promise<{ tokenId: string } | { retryAfterSeconds: number }> {
      return em.transactional(async (tx) => {
        await tx.getConnection().execute('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`account-emails:${userId}`], 'get', tx.getTransactionContext());
        const hour = 3_600_000;
        const recent = await tx.find(AccountToken, { user: userId, purpose, createdAt: { $gt: new Date(Date.now() - hour) } }, { orderBy: { createdAt: 'asc' } });
        if (recent.length >= deps.config.ACCOUNT_EMAILS_PER_HOUR) {
          return { retryAfterSeconds: Math.max(1, Math.ceil((recent[0].createdAt.getTime() + hour - Date.now()) / 1000)) };
        }
        const token = createAccountToken(tx, deps.config.JWT_SECRET, { userId, purpose, ttlMs: ttlMs(purpose) });
        await tx.flush();
        return { tokenId: token.id };
      });
    },

    /** Drops a token whose email could not be queued, so it does not count against the pace. */
    async discard(em: EntityManager, tokenId: string): Promise<void> {
      await em.nativeDelete(AccountToken, { id: tokenId });
    },
  };
}
