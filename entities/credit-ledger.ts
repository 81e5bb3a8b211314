import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { CreditAccount, CreditTransaction, type CreditTxKind } from './credits';
import { DomainError, ErrorType } from '../domain/errors';

/**
 * Credit operations. Each runs inside the caller's transaction (so an analysis row and
 * its reservation commit together), locks the account row, and is keyed: replaying an
 * operation with a key already recorded changes nothing and returns the earlier result.
 */

async function lockAccount(em: EntityManager, userId: string) {
  let account = await em.findOne(CreditAccount, { userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!account) {
    await em.getConnection().execute(
      'insert into credit_accounts (id, created_at, updated_at, user_id, balance, reserved) values (gen_random_uuid(), now(), now(), ?, 0, 0) on conflict (user_id) do nothing',
      [userId],
      'run',
      em.getTransactionContext(),
    );
    account = await em.findOneOrFail(CreditAccount, { userId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  }
  return account;
}

async function recorded(em: EntityManager, key: string) {
  return em.findOne(CreditTransaction, { key });
}

function record(em: EntityManager, userId: string, kind: CreditTxKind, amount: number, key: string, reason: string, period: number | null = null) {
  em.create(CreditTransaction, { userId, kind, amount, key, reason, period });
}

export interface CreditBalance {
  balance: number;
  reserved: number;
}

export async function getBalance(em: EntityManager, userId: string): Promise<CreditBalance> {
  const account = await em.findOne(CreditAccount, { userId });
  return { balance: account?.balance ?? 0, reserved: account?.reserved ?? 0 };
}

/**
 * Sets the spendable balance to the period's allowance (credits reset each period) and opens
 * a new period: reservations still in flight belong to the old one, so releasing them later
 * gives nothing back (the old period's credits expired with it) and committing them later
 * takes nothing from the new allowance.
 */
export async function grantPeriodCredits(em: EntityManager, userId: string, amount: number, key: string, reason: string): Promise<CreditBalance> {
  return em.transactional(async (tx) => {
    const account = await lockAccount(tx, userId);
    if (await recorded(tx, key)) return { balance: account.balance, reserved: account.reserved };
    account.balance = amount;
    account.period += 1;
    record(tx, userId, 'grant', amount, key, reason, account.period);
    await tx.flush();
    return { balance: account.balance, reserved: account.reserved };
  });
}

/** Adds `amount` to the spendable balance (e.g. an upgrade inside a period), once per key. */
export async function addCredits(em: EntityManager, userId: string, amount: number, key: string, reason: string): Promise<CreditBalance> {
  return em.transactional(async (tx) => {
    const account = await lockAccount(tx, userId);
    if (await recorded(tx, key)) return { balance: account.balance, reserved: account.reserved };
    account.balance += amount;
    record(tx, userId, 'grant', amount, key, reason);
    await tx.flush();
    return { balance: account.balance, reserved: account.reserved };
  });
}

/** Holds credits for work in flight; throws InsufficientCredits when the balance is short. */
export async function reserveCredits(em: EntityManager, userId: string, amount: number, key: string, reason: string): Promise<CreditBalance> {
  return em.transactional(async (tx) => {
    const account = await lockAccount(tx, userId);
    if (await recorded(tx, key)) return { balance: account.balance, reserved: account.reserved };
    if (account.balance < amount) {
      throw new DomainError(ErrorType.InsufficientCredits, `Not enough credits: ${amount} needed, ${account.balance} available`, {
        needed: amount,
        available: account.balance,
      });
    }
    account.balance -= amount;
    account.reserved += amount;
    record(tx, userId, 'reserve', amount, key, reason, account.period);
    await tx.flush();
    return { balance: account.balance, reserved: account.reserved };
  });
}

/**
 * Settles a reservation: `commit` spends it, `release` gives it back. A reservation is
 * settled once; the second settle of either kind is a no-op.
 */
export async function settleReservation(
  em: EntityManager,
  userId: string,
  amount: number,
  reservationKey: string,
  outcome: 'commit' | 'release',
  reason: string,
): Promise<{ settled: 'commit' | 'release' | 'none' }> {
  return em.transactional(async (tx) => {
    const account = await lockAccount(tx, userId);
    const previous = (await recorded(tx, `${reservationKey}:commit`)) ?? (await recorded(tx, `${reservationKey}:release`));
    if (previous) return { settled: previous.kind as 'commit' | 'release' };
    const reservation = await recorded(tx, reservationKey);
    if (!reservation) return { settled: 'none' };
    account.reserved = Math.max(0, account.reserved - amount);
    // A reservation from before the last reset returns nothing: the reset already handed out
    // a full allowance, and adding the old hold on top would create credits.
    const samePeriod = (reservation.period ?? 0) === account.period;
    if (outcome === 'release' && samePeriod) account.balance += amount;
    record(tx, userId, outcome, samePeriod || outcome === 'commit' ? amount : 0, `${reservationKey}:${outcome}`, reason, reservation.period);
    await tx.flush();
    return { settled: outcome };
  });
}
