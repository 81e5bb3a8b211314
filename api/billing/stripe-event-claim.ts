import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { MikroORM } from '../../entities/orm';
import type { Plan } from '../../domain/plans';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a Stripe event says about whose it is. */
export interface EventOwnerHints {
  /** The Stripe customer id (ours is on users.stripe_customer_id). */
  customer: string | null;
  /** User ids checkout put on the object, in the order they are trusted (non-UUIDs are dropped). */
  userIds: (string | null | undefined)[];
}

export type ClaimOutcome =
  /** Ours to signal: the row is written but not committed until `deliver` resolves. */
  | { kind: 'signalled'; userId: string }
  /** Already signalled (a redelivery, or a concurrent delivery that signalled first). */
  | { kind: 'duplicate' }
  /** No user has this customer or any of these ids: recorded unsignalled, nothing to deliver. */
  | { kind: 'no-user' };

/**
 * A SQL literal for `value`: pg's escapeLiteral (quotes doubled; a string with backslashes
 * written as E'…' with them doubled, so it reads back the same whatever
 * standard_conforming_strings says), and `null` for null. The claim is sent in the simple
 * query protocol (see below), which carries no parameters.
 */
export const sqlLiteral = (value: string | null): string => (value === null ? 'null' : pg.escapeLiteral(value));

/**
 * `begin` and the claim as ONE simple-protocol message (one round trip; Postgres runs the
 * statements in order and the explicit transaction stays open after it, holding the row).
 *
 * The transaction commits with synchronous_commit off: the commit returns once the row is
 * visible and its lock released, without waiting for the WAL flush (that wait was a third of
 * the handler's time under the bench, as long as the claim itself). Locks and visibility are
 * unchanged, so concurrent redeliveries are still suppressed and a 200 is still followed by the
 * row. What it gives up: if Postgres itself crashes within ~3 × wal_writer_delay (600 ms by
 * default) of the commit, the row may be lost. The signal is already in Temporal by then, so
 * nothing is lost but the dedupe record; a later redelivery would signal again and the
 * workflow drops an event id it has seen (the window a crash between signal and commit has).
 * No other write shares this transaction.
 * The claim finds the event's user (customer match first, else the checkout ids in order) and
 * inserts the event row already marked signalled, or takes over an unsignalled row left by an
 * earlier delivery that had no user; nothing if it was signalled. Values are written as
 * literals (sqlLiteral); the user ids were checked to be UUIDs before they get here.
 */
export function claimStatements(event: { id: string; type: string; objectId: string | null }, owner: EventOwnerHints, rowId: string = randomUUID()): string {
  const ids = owner.userIds.filter((v): v is string => typeof v === 'string' && UUID.test(v));
  const [a = null, b = null, c = null] = ids.map(sqlLiteral);
  const [customer, rowIdLit, eventId, type, objectId] = [owner.customer, rowId, event.id, event.type, event.objectId].map(sqlLiteral);
  return `begin;
set local synchronous_commit = off;
with caller as (
  select id, plan from users
  where stripe_customer_id = ${customer} or id in (${a ?? 'null'}::uuid, ${b ?? 'null'}::uuid, ${c ?? 'null'}::uuid)
  order by coalesce(stripe_customer_id = ${customer}, false) desc, case id when ${a ?? 'null'}::uuid then 1 when ${b ?? 'null'}::uuid then 2 else 3 end
  limit 1
)
insert into stripe_events as e (id, created_at, updated_at, event_id, type, object_id, user_id, received_at, signalled_at)
select ${rowIdLit}::uuid, now(), now(), ${eventId}, ${type}, ${objectId}, caller.id, now(), case when caller.id is null then null else now() end
from (select 1) as one left join caller on true
on conflict (event_id) do update
  set user_id = excluded.user_id, signalled_at = excluded.signalled_at, updated_at = excluded.updated_at
  where e.signalled_at is null and excluded.signalled_at is not null
returning e.user_id, (select plan from caller) as plan`;
}

/** The part of pg's pooled client used here (MikroORM's own copy of pg provides it). */
interface PgClient {
  query(text: string, values?: unknown[]): Promise<PgResult | PgResult[]>;
  release(err?: Error | boolean): void;
}
interface PgResult {
  rows: Record<string, unknown>[];
}
interface PgPool {
  connect(): Promise<PgClient>;
}

/**
 * Records a Stripe event and, when it has a user and was not signalled yet, calls `deliver`
 * (the signalWithStart) while the row is still uncommitted; commits only if `deliver`
 * resolved. Two round trips to Postgres (begin + claim in one message, then commit), on a
 * client taken straight from the pool MikroORM uses: its query building, unit of work and
 * kysely were a sixth of the API's CPU per event (bench/webhook.ts --profile).
 *
 * Never doubled: a concurrent delivery of the same event id blocks on the unique index until
 * this transaction ends; if it committed, the other sees the row signalled (duplicate).
 * Never lost: if `deliver` throws, or the process dies before the commit, nothing is
 * committed (or an earlier no-user row is left unsignalled), the caller answers non-2xx and
 * Stripe's retry (or a concurrent delivery that was waiting) signals. The one window left is
 * a crash after Temporal accepted the signal and before the commit: the retry signals again,
 * and the workflow drops an event id it has already applied.
 */
export async function claimAndDeliverStripeEvent(
  orm: MikroORM,
  event: { id: string; type: string; objectId: string | null },
  owner: EventOwnerHints,
  deliver: (user: { id: string; plan: Plan }) => Promise<void>,
): Promise<ClaimOutcome> {
  const pool = (await orm.em.getConnection().getNativeClient()) as unknown as PgPool;
  const client = await pool.connect();
  try {
    const results = (await client.query(claimStatements(event, owner))) as PgResult[];
    const [claimed] = results[results.length - 1].rows as { user_id: string | null; plan: Plan | null }[];
    let outcome: ClaimOutcome;
    if (claimed?.user_id && claimed.plan) {
      await deliver({ id: claimed.user_id, plan: claimed.plan });
      outcome = { kind: 'signalled', userId: claimed.user_id };
    } else if (claimed) {
      outcome = { kind: 'no-user' };
    } else {
      // The row exists and was not taken over: signalled before (by an earlier or a concurrent
      // delivery, which the claim waited for), or still without a user.
      const { rows } = (await client.query('select signalled_at from stripe_events where event_id = $1', [event.id])) as PgResult;
      outcome = rows[0]?.signalled_at ? { kind: 'duplicate' } : { kind: 'no-user' };
    }
    await client.query('commit');
    client.release();
    return outcome;
  } catch (err) {
    // Whatever failed (the claim, the signal, the commit), nothing stays open: roll back; a
    // connection that cannot is dropped from the pool (Postgres then aborts its transaction).
    try {
      await client.query('rollback');
      client.release();
    } catch (rollbackErr) {
      client.release(rollbackErr as Error);
    }
    throw err;
  }
}
