import { ActivityFailure, ApplicationFailure, allHandlersFinished, condition, continueAsNew, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { BillingActivities } from '../../activities/billing';
import type { NotifyActivities } from '../../activities/notify';
import { ErrorType } from '../../domain/errors';
import {
  applyDeadline,
  applyStripeTruth,
  billingMessage,
  initialSubscriptionState,
  nextDeadline,
  DEFAULT_GRACE_DAYS,
  type BillingEffect,
  type BillingEventRef,
  type Deadline,
  type SubscriptionState,
  type Transition,
} from '../../domain/subscription';
import { stateQuery, stripeEventSignal, type SubscriptionLiveState } from './messages';
import { bestEffort } from '../shared/best-effort';
import { NOTIFY_ACTIVITY_OPTIONS } from '../shared/notify-policy';
import type { SubscriptionLifecycleInput } from './messages';

// Stripe and the database: patient retries (an outage must not lose the state machine).
const { fetchStripeSubscription, applyEntitlements, grantPlanCredits, cancelStripeSubscription, loadSubscriptionState } = proxyActivities<
  Pick<BillingActivities, 'fetchStripeSubscription' | 'applyEntitlements' | 'grantPlanCredits' | 'cancelStripeSubscription' | 'loadSubscriptionState'>
>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});
// Notices: NOTIFY_ACTIVITY_OPTIONS (few attempts, keyed).
const { sendEmail, notifyInApp } = proxyActivities<NotifyActivities>(NOTIFY_ACTIVITY_OPTIONS);

const SEEN_LIMIT = 200;
const EVENTS_PER_RUN = 500;
/** Why an activity failed for good, for the log (only non-retryable failures get here). */
function failureMessage(err: ActivityFailure): string {
  return err.cause?.message ?? err.message;
}
const isNotFound = (err: ActivityFailure) => err.cause instanceof ApplicationFailure && err.cause.type === ErrorType.NotFound;

/**
 * One per user (`subscription-<userId>`): the subscription state machine. Webhooks signal
 * Stripe events; each is applied by re-fetching the subscription (Stripe is the truth), so
 * duplicates and out-of-order deliveries converge. Timers drive dunning, the grace period,
 * changes at the period end and monthly credits on yearly plans. The run continues-as-new
 * once per billing cycle; it ends when the subscription has expired and nothing is pending.
 */
export async function subscriptionLifecycle(input: SubscriptionLifecycleInput): Promise<SubscriptionState> {
  const graceDays = input.graceDays ?? DEFAULT_GRACE_DAYS;
  // Carried over by continue-as-new; a fresh run (the first, or one after a failed or
  // terminated run) starts from what the database last recorded, below.
  let state: SubscriptionState = input.state ?? initialSubscriptionState(input.userId);
  const queue: BillingEventRef[] = [...(input.pending ?? [])];
  const seen: string[] = [...(input.seen ?? [])];
  let applied = 0;
  let processing = 0;

  setHandler(stripeEventSignal, (event) => {
    if (seen.includes(event.eventId) || queue.some((e) => e.eventId === event.eventId)) return;
    queue.push(event);
  });
  setHandler(stateQuery, (): SubscriptionLiveState => {
    const next = nextDeadline(state, graceDays);
    return {
      ...state,
      pendingEvents: queue.length + processing,
      nextDeadline: next ? { kind: next.kind, at: next.at.toISOString(), ...(next.day !== undefined ? { day: next.day } : {}) } : null,
      eventsApplied: applied,
    };
  });


  async function run(effects: BillingEffect[], reason: string) {
    for (const effect of effects) {
      if (effect.kind === 'grantCredits') {
        await grantPlanCredits({ userId: state.userId, plan: effect.plan, key: effect.key, reason: effect.reason, ...(effect.topUpFrom ? { topUpFrom: effect.topUpFrom } : {}) });
      } else if (effect.kind === 'cancelStripe') {
        // A permanent refusal (e.g. already canceled at Stripe) must not undo the downgrade.
        await bestEffort('canceling the Stripe subscription', { subscriptionId: effect.subscriptionId }, () => cancelStripeSubscription({ subscriptionId: effect.subscriptionId }));
      } else {
        const text = billingMessage(effect.message, { plan: effect.plan ?? (effect.message === 'downgraded_unpaid' ? 'free' : state.plan), periodEnd: state.currentPeriodEnd, graceDays, day: effect.day, trialEnd: state.trialEnd });
        const key = `billing:${effect.key}`;
        await bestEffort('billing email', { key }, () => sendEmail({ key, userId: state.userId, ...text }));
        await bestEffort('in-app notice', { key }, () => notifyInApp({ key, userId: state.userId, kind: `billing.${effect.message}`, title: text.subject, body: text.text, data: { reason } }));
      }
    }
  }

  async function commit(t: Transition, reason: string): Promise<boolean> {
    const changed = JSON.stringify(t.state) !== JSON.stringify(state);
    state = t.state;
    // Entitlements (User.plan, the Subscription row) first, then credits and messages.
    if (changed) {
      try {
        await applyEntitlements(state);
      } catch (err) {
        // The user is gone (deleted account): nothing to mirror to; keep following Stripe.
        if (!(err instanceof ActivityFailure) || !isNotFound(err)) throw err;
        log.warn('entitlements not applied: user not found', { userId: state.userId, reason, error: failureMessage(err) });
      }
    }
    await run(t.effects, reason);
    return t.newPeriod;
  }

  /** Stripe's truth right now; null when there is no subscription to look at. */
  async function truth(event: BillingEventRef | null) {
    if (!event && !state.subscriptionId) return null;
    return fetchStripeSubscription({
      userId: state.userId,
      type: event?.type ?? 'reconcile',
      objectId: event?.objectId ?? state.subscriptionId!,
      knownSubscriptionId: state.subscriptionId,
    });
  }

  /** Stripe's truth, or undefined when Stripe refused for good (logged); retryable failures retry. */
  async function truthOrSkip(event: BillingEventRef | null, context: Record<string, unknown>) {
    try {
      return await truth(event);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.error('Stripe refused to show the subscription; skipped', { ...context, error: failureMessage(err) });
      return undefined;
    }
  }

  async function onEvent(event: BillingEventRef): Promise<boolean> {
    // Seen from the moment it is taken: a redelivery during processing is a duplicate too.
    seen.push(event.eventId);
    if (seen.length > SEEN_LIMIT) seen.splice(0, seen.length - SEEN_LIMIT);
    // A permanent Stripe error skips this event (the nightly reconcile re-checks) instead of
    // blocking every later event and timer behind endless retries.
    const snap = await truthOrSkip(event, { eventId: event.eventId, type: event.type, objectId: event.objectId });
    if (snap === undefined) return false;
    let newPeriod = false;
    if (snap) newPeriod = await commit(applyStripeTruth(state, snap, new Date()), event.type);
    else log.warn('no Stripe subscription behind the event', { eventId: event.eventId, type: event.type });
    if (event.type === 'customer.subscription.trial_will_end' && snap?.trialEnd) {
      await run([{ kind: 'notify', message: 'trial_will_end', key: `trial:${snap.subscriptionId}:${snap.trialEnd}` }], event.type);
    }
    return newPeriod;
  }

  /** Acts on a timer; true when a new billing period began (the run then continues-as-new). */
  async function onDeadline(deadline: Deadline): Promise<boolean> {
    let newPeriod = false;
    // Re-check Stripe before acting on a timer: a missed "paid" webhook must not downgrade.
    // Dunning and credit resets change nothing at Stripe, the truth only matters for the rest.
    // Stripe refusing for good leaves the local state to decide.
    if (deadline.kind === 'grace' || deadline.kind === 'periodEnd') {
      const snap = await truthOrSkip(null, { timer: deadline.kind });
      if (snap) newPeriod = await commit(applyStripeTruth(state, snap, new Date()), `timer:${deadline.kind}`);
      const again = nextDeadline(state, graceDays);
      if (!again || again.kind !== deadline.kind || again.at.getTime() > Date.now()) return newPeriod;
    }
    return (await commit(applyDeadline(state, deadline, new Date()), `timer:${deadline.kind}`)) || newPeriod;
  }

  if (!input.state) {
    const stored = await loadSubscriptionState({ userId: input.userId });
    if (stored) state = stored;
  }

  for (;;) {
    const deadline = nextDeadline(state, graceDays);
    const wait = deadline ? deadline.at.getTime() - Date.now() : undefined;
    if (queue.length === 0) {
      if (wait === undefined) await condition(() => queue.length > 0);
      else if (wait > 0) await condition(() => queue.length > 0, wait);
    }
    let newPeriod = false;
    if (queue.length > 0) {
      processing = 1;
      newPeriod = await onEvent(queue.shift()!);
      processing = 0;
      applied += 1;
    } else if (deadline) {
      newPeriod = await onDeadline(deadline);
    }

    if (state.status === 'expired' && queue.length === 0 && !nextDeadline(state, graceDays)) {
      await condition(allHandlersFinished);
      if (queue.length === 0) return state;
    }
    if (newPeriod || applied >= EVENTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof subscriptionLifecycle>({ userId: state.userId, state, pending: [...queue], seen, graceDays });
    }
  }
}
