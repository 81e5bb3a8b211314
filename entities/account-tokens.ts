import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AccountToken, type AccountTokenPurpose } from './accounts';

/**
 * Emailed link tokens. The token is HMAC(secret, "account-token:<row id>"): the row keeps
 * only sha256(token), Temporal histories carry only the row id, and the worker that sends
 * the email rebuilds the same token on every retry, so a retried send after a crash mails
 * the same link (and the provider's idempotency key dedupes it). Without the secret, the
 * database and the histories together cannot produce a usable link.
 */
export function accountTokenFor(secret: string, tokenId: string): string {
  return `hta_${createHmac('sha256', secret).update(`account-token:${tokenId}`).digest('base64url')}`;
}

export const hashAccountToken = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Adds a token row in the caller's transaction; the email is sent after the commit. */
export function createAccountToken(em: EntityManager, secret: string, input: { userId: string; purpose: AccountTokenPurpose; ttlMs: number }): AccountToken {
  const id = randomUUID();
  return em.create(AccountToken, {
    id,
    user: input.userId,
    purpose: input.purpose,
    tokenHash: hashAccountToken(accountTokenFor(secret, id)),
    expiresAt: new Date(Date.now() + input.ttlMs),
  });
}

export type ConsumedToken = { ok: true; tokenId: string; userId: string } | { ok: false; reason: 'invalid' | 'expired' };

/**
 * Uses a token once: the conditional UPDATE lets exactly one of two concurrent requests
 * with the same token through. Unknown, already used and other-purpose tokens are all
 * "invalid"; an unused token past its expiry is "expired".
 */
export async function consumeAccountToken(em: EntityManager, token: string, purpose: AccountTokenPurpose): Promise<ConsumedToken> {
  const tokenHash = hashAccountToken(token);
  const rows: { id: string; user_id: string }[] = await em.getConnection().execute(
    `update account_tokens set used_at = now(), updated_at = now()
      where token_hash = ? and purpose = ? and used_at is null and expires_at > now()
      returning id, user_id`,
    [tokenHash, purpose],
    'all',
    em.getTransactionContext(),
  );
  if (rows[0]) return { ok: true, tokenId: rows[0].id, userId: rows[0].user_id };
  const expired = await em.count(AccountToken, { tokenHash, purpose, usedAt: null, expiresAt: { $lte: new Date() } });
  return { ok: false, reason: expired ? 'expired' : 'invalid' };
}
