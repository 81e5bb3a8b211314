import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';

/**
 * A user's analysis credits. `balance` is what can still be reserved; `reserved` is held
 * by analyses in flight. Every change is a CreditTransaction with a unique key, so a
 * retried activity or API call never debits or grants twice.
 */
export const CreditAccount = defineEntity({
  name: 'CreditAccount',
  tableName: 'credit_accounts',
  properties: {
    ...baseProperties,
    userId: p.uuid().unique(),
    balance: p.integer().default(0),
    reserved: p.integer().default(0),
    /**
     * Incremented by every period reset. A reservation remembers the period it was taken in;
     * released after a reset, it must not come back on top of the new allowance.
     */
    period: p.integer().default(0),
  },
});
export type CreditAccount = InferEntity<typeof CreditAccount>;

export const CREDIT_TX_KINDS = ['grant', 'reserve', 'commit', 'release'] as const;
export type CreditTxKind = (typeof CREDIT_TX_KINDS)[number];

export const CreditTransaction = defineEntity({
  name: 'CreditTransaction',
  tableName: 'credit_transactions',
  properties: {
    ...baseProperties,
    userId: p.uuid().index(),
    kind: p.enum(CREDIT_TX_KINDS),
    amount: p.integer(),
    /** Idempotency key, e.g. `analysis:<id>:reserve` or `grant:<userId>:<periodStart>`. */
    key: p.string().unique(),
    reason: p.string(),
    /** For reservations: the account period they were taken in (see CreditAccount.period). */
    period: p.integer().nullable(),
  },
});
export type CreditTransaction = InferEntity<typeof CreditTransaction>;
