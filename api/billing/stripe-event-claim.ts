import { randomUUID } from 'node:crypto';
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
 * Finds the event's user and claims the event row in ONE statement: customer match first,
 * else the checkout ids in order; insert the row already marked signalled, or take over an
 * unsignalled row left by an earlier delivery that had no user; nothing if it was signalled.
 */
const CLAIM_SQL = `
with caller as (
  select id, plan from users
  where stripe_customer_id = ? or id in (?::uuid, ?::uuid, ?::uuid)
  order by coalesce(stripe_customer_id = ?, false) desc, case id when ?::uuid then 1 when ?::uuid then 2 else 3 end
  limit 1
)
insert into stripe_events as e (id, created_at, updated_at, event_id, type, object_id, user_id, received_at, signalled_at)
select ?::uuid, now(), now(), ?, ?, ?, caller.id, now(), case when caller.id is null then null else now() end
from (select 1) as one left join caller on true
on conflict (event_id) do update
  set user_id = excluded.user_id, signalled_at = excluded.signalled_at, updated_at = excluded.updated_at
  where e.signalled_at is null and excluded.signalled_at is not null
returning e.user_id, (select plan from caller) as plan`;

/**
 * Records a Stripe event and, when it has a user and was not signalled yet, calls `deliver`
 * (the signalWithStart) while the row is still uncommitted; commits only if `deliver`
 * resolved. Three statements (begin, the claim, commit) instead of the ORM's nine
 * (bench/webhook.ts --profile lists them).
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
  const conn = orm.em.getConnection();
  const ids = owner.userIds.filter((v): v is string => typeof v === 'string' && UUID.test(v));
  const [a = null, b = null, c = null] = ids;
  const params = [owner.customer, a, b, c, owner.customer, a, b, randomUUID(), event.id, event.type, event.objectId];
  return conn.transactional(async (trx) => {
    const [claimed] = (await conn.execute(CLAIM_SQL, params, 'all', trx)) as { user_id: string | null; plan: Plan | null }[];
    if (claimed?.user_id && claimed.plan) {
      await deliver({ id: claimed.user_id, plan: claimed.plan });
      return { kind: 'signalled', userId: claimed.user_id } as const;
    }
    if (claimed) return { kind: 'no-user' } as const;
    // The row exists and was not taken over: signalled before (by an earlier or a concurrent
    // delivery, which this statement waited for), or still without a user.
    const [row] = (await conn.execute('select signalled_at from stripe_events where event_id = ?', [event.id], 'all', trx)) as { signalled_at: Date | null }[];
    return row?.signalled_at ? ({ kind: 'duplicate' } as const) : ({ kind: 'no-user' } as const);
  });
}
