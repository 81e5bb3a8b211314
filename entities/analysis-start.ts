import type { EntityManager } from '@mikro-orm/postgresql';
import { randomUUID } from 'node:crypto';
import { DomainError, ErrorType } from '../domain/errors';
import { IDEMPOTENCY_WINDOW_HOURS, type AnalysisType } from '../domain/analysis';
import { AnalysisLimitReached, nextMonthStart, type AnalysisStartLimits } from './analysis-limits';

/**
 * The write of POST /api/analyses in ONE round trip: the start locks, then one statement that
 * checks the limits and the Idempotency-Key, reserves the credits and inserts the Analysis row,
 * its ledger entry and its key claim, sent together as one simple-protocol message, which
 * PostgreSQL runs as one implicit transaction (committed at its end, rolled back whole on any
 * error).
 *
 * Why this shape (bench/api-latency.ts --profile): the unit-of-work version sent 13 statements
 * inside the transaction (locks, three counts, the row, a savepoint, the account lock, the key
 * lookup, the ledger insert, the balance update...) and held the start locks across all those
 * round trips, so starts by one account or organization queued behind each other's network
 * and event-loop waits and ORM CPU (19.5 vs 74 raw starts/s on the shared machine). With one
 * message the locks are held for the server-side work and the commit only: no round trip to
 * a busy API process happens while another start waits for them.
 *
 * Why two statements: READ COMMITTED takes a statement's snapshot when the statement starts,
 * so a count in the statement that waited for the lock would not see the row of the start it
 * waited for. The locks come first, in their own statement; the next statement's snapshot
 * sees every start committed before.
 *
 * Guarantees, as before:
 *  - limits race-free: the per-user then per-organization advisory locks (always that order,
 *    so two starts cannot deadlock; PostgreSQL evaluates a select list left to right) are held
 *    until the commit, so concurrent starts are counted one after the other;
 *  - credits reserved once: the balance update re-checks `balance >= credits` on the latest
 *    row version (another writer's settle waits or is waited for, as with FOR UPDATE), and the
 *    ledger entry's key is unique;
 *  - an Idempotency-Key is claimed once: same key means same user, so the user lock orders the
 *    two requests and the second one's snapshot sees the first one's claim;
 *  - the horse is in `organizationId` when the row is written (checked in the same statement,
 *    so the API need not load it first: the caller's membership of that organization is
 *    checked before, from the caller's memberships);
 *  - all or nothing: a refusal writes nothing (every write hangs off the reservation), and a
 *    reservation without its ledger entry or key claim fails the statement (division by zero
 *    in the last select: plain SQL has no RAISE), which rolls the whole message back.
 */

export interface AnalysisStartInput {
  id: string;
  userId: string;
  organizationId: string;
  horseId: string;
  type: AnalysisType;
  credits: number;
  videoKey: string;
  workflowId: string;
  reservationKey: string;
  reason: string;
  idempotency: { key: string; requestHash: string } | null;
  limits: AnalysisStartLimits;
  now?: Date;
}

/** The Idempotency-Key is held by a live claim of an earlier request: nothing was written. */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('the Idempotency-Key is claimed by an earlier request');
    this.name = 'IdempotencyKeyTaken';
  }
}

/**
 * The horse is not (or no longer) in the organization the start names: nothing was written.
 * The caller says why (unknown horse, another organization's) with its own checks.
 */
export class HorseNotInOrganization extends Error {
  constructor(
    readonly horseId: string,
    readonly organizationId: string,
  ) {
    super(`horse ${horseId} is not in organization ${organizationId}`);
    this.name = 'HorseNotInOrganization';
  }
}

const HOUR_MS = 3_600_000;

const LOCK_SQL = 'select pg_advisory_xact_lock(hashtextextended(?, 0)), pg_advisory_xact_lock(hashtextextended(?, 0))';

/*
 * The windows count at most `limit` of the newest rows: enough to say "limit reached", and the
 * oldest of them is when the next start is allowed (Retry-After). The spend sum runs only with
 * a cap. `go` is the verdict; every write depends on it through `reserved`.
 */
const START_SQL = `
with usr as (
  select count(*)::int as n, min(created_at) as oldest
    from (select created_at from analyses where user_id = ? and created_at > ? order by created_at desc limit ?) w
), org as (
  select count(*)::int as n, min(created_at) as oldest
    from (select created_at from analyses where organization_id = ? and created_at > ? order by created_at desc limit ?) w
), spend as (
  select coalesce(sum(estimated_cost_usd), 0)::float8 as spent
    from analyses where ?::float8 > 0 and organization_id = ? and created_at >= ?
), prior as (
  select exists(select 1 from analysis_requests where ?::text is not null and user_id = ? and key = ? and expires_at > now()) as taken
), horse as (
  select exists(select 1 from horses where id = ? and organization_id = ?) as ok
), go as (
  select 1 from usr, org, spend, prior, horse
   where horse.ok and not prior.taken and usr.n < ? and org.n < ? and (?::float8 <= 0 or spend.spent < ?::float8)
), reserved as (
  update credit_accounts set balance = balance - ?, reserved = reserved + ?, updated_at = ?
   where user_id = ? and balance >= ? and exists(select 1 from go)
  returning period
), analysis as (
  insert into analyses (id, created_at, updated_at, organization_id, horse_id, user_id, type, status, stage, credits, video_key, workflow_id)
  select ?, ?, ?, ?, ?, ?, ?, 'pending', 'queued', ?, ?, ? from reserved
  returning id
), ledger as (
  insert into credit_transactions (id, created_at, updated_at, user_id, kind, amount, key, reason, period)
  select ?, ?, ?, ?, 'reserve', ?, ?, ?, period from reserved
  returning id
), claim as (
  insert into analysis_requests (id, created_at, updated_at, user_id, key, request_hash, analysis_id, expires_at)
  select ?, now(), now(), ?, ?::text, ?, id, now() + make_interval(hours => ?) from analysis where ?::text is not null
  on conflict (user_id, key) do update
    set request_hash = excluded.request_hash, analysis_id = excluded.analysis_id, expires_at = excluded.expires_at, created_at = now(), updated_at = now()
    where analysis_requests.expires_at <= now()
  returning id
)
select 1 / (case when (select count(*) from ledger) = (select count(*) from analysis)
                     and (?::text is null or (select count(*) from claim) = (select count(*) from analysis)) then 1 else 0 end) as consistent,
       horse.ok as horse_ok, prior.taken, usr.n as user_n, usr.oldest as user_oldest, org.n as org_n, org.oldest as org_oldest, spend.spent,
       (select count(*) from analysis)::int as inserted,
       (select balance from credit_accounts where user_id = ?) as balance
  from usr, org, spend, prior, horse`;

interface StartRow {
  horse_ok: boolean;
  taken: boolean;
  user_n: number;
  user_oldest: Date | string | null;
  org_n: number;
  org_oldest: Date | string | null;
  spent: number | string;
  inserted: number;
  balance: number | null;
}

/**
 * Creates the analysis row with its credit reservation and key claim, or throws (nothing
 * written): HorseNotInOrganization, IdempotencyKeyTaken, AnalysisLimitReached (429/402),
 * DomainError InsufficientCredits (checked in that order).
 */
export async function reserveAnalysisStart(em: EntityManager, input: AnalysisStartInput): Promise<void> {
  const now = input.now ?? new Date();
  const { limits, idempotency: idem } = input;
  const since = new Date(now.getTime() - HOUR_MS);
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const cap = limits.organizationMonthlySpendCapUsd;
  const key = idem?.key ?? null;
  const params = [
    // usr, org, spend
    input.userId, since, limits.perUserPerHour,
    input.organizationId, since, limits.perOrganizationPerHour,
    cap, input.organizationId, monthStart,
    // prior, horse, go
    key, input.userId, key,
    input.horseId, input.organizationId,
    limits.perUserPerHour, limits.perOrganizationPerHour, cap, cap,
    // reserved
    input.credits, input.credits, now, input.userId, input.credits,
    // analysis
    input.id, now, now, input.organizationId, input.horseId, input.userId, input.type, input.credits, input.videoKey, input.workflowId,
    // ledger
    randomUUID(), now, now, input.userId, input.credits, input.reservationKey, input.reason,
    // claim
    randomUUID(), input.userId, key, idem?.requestHash ?? null, IDEMPOTENCY_WINDOW_HOURS, key,
    // consistent, balance
    key,
    input.userId,
  ];
  const connection = em.getConnection();
  const platform = connection.getPlatform();
  const lock = platform.formatQuery(LOCK_SQL, [`analysis-start:user:${input.userId}`, `analysis-start:org:${input.organizationId}`]);
  const start = platform.formatQuery(START_SQL, params);
  // pg's pool, not MikroORM's execute: several statements in one message answer one result
  // each, which the ORM's execute does not hand back. No values are bound (the simple
  // protocol runs several statements only without them): formatQuery quotes them as it does
  // for every ORM query.
  const pool = await connection.getNativeClient();
  const results = (await pool.query(`${lock};\n${start}`)) as unknown as { rows: StartRow[] }[];
  const row = results[1]?.rows[0];
  if (!row) throw new Error(`analysis start ${input.id}: the start statement returned no row`);
  if (!row.horse_ok) throw new HorseNotInOrganization(input.horseId, input.organizationId);
  if (row.taken) throw new IdempotencyKeyTaken();
  refuseOverLimit(row, limits, now);
  if (row.inserted === 0) {
    const available = Number(row.balance ?? 0);
    throw new DomainError(ErrorType.InsufficientCredits, `Not enough credits: ${input.credits} needed, ${available} available`, { needed: input.credits, available });
  }
}

/** The same answers, in the same order, as the per-check version: account, organization, spend cap. */
function refuseOverLimit(row: StartRow, limits: AnalysisStartLimits, now: Date): void {
  const window = (n: number, oldest: Date | string | null, limit: number, scope: 'user' | 'organization', who: string) => {
    if (n < limit) return;
    const retryAfter = Math.max(1, Math.ceil((new Date(oldest!).getTime() + HOUR_MS - now.getTime()) / 1000));
    throw new AnalysisLimitReached(429, `Too many analyses started: ${who} may start ${limit} per hour; retry in ${retryAfter} s`, retryAfter, { limit, windowSeconds: 3600, scope });
  };
  window(row.user_n, row.user_oldest, limits.perUserPerHour, 'user', 'one account');
  window(row.org_n, row.org_oldest, limits.perOrganizationPerHour, 'organization', 'one organization');
  const cap = limits.organizationMonthlySpendCapUsd;
  const spent = Number(row.spent);
  if (cap > 0 && spent >= cap) {
    const resetsAt = nextMonthStart(now);
    throw new AnalysisLimitReached(
      402,
      `This organization reached its monthly AI spend cap (${cap} USD, ${spent.toFixed(2)} USD used); analyses start again on ${resetsAt.toISOString().slice(0, 10)} at 00:00 UTC (Retry-After); results already stored stay readable`,
      Math.ceil((resetsAt.getTime() - now.getTime()) / 1000),
      { capUsd: cap, spentUsd: Number(spent.toFixed(4)), resetsAt: resetsAt.toISOString() },
    );
  }
}
