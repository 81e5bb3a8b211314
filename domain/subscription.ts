/**
 * The subscription state machine's rules, pure so the workflow, the API, the reconcile job
 * and the unit tests share them. Stripe's subscription object is the truth: the workflow
 * re-fetches it on every event and feeds it to `applyStripeTruth`, so duplicate, late or
 * out-of-order events converge to the same state. Timers (dunning, grace, period end,
 * monthly credit resets on yearly plans) come from `nextDeadline` / `applyDeadline`.
 */
import { isUpgrade, type BillingInterval, type PaidPlan, type Plan } from './plans';
import { DAY_MS } from './time';

export const SUBSCRIPTION_STATUSES = ['none', 'incomplete', 'trialing', 'active', 'past_due', 'canceled', 'expired'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
/** Statuses in which Stripe still bills the customer (checkout is refused: use the portal). */
export const LIVE_STATUSES: readonly SubscriptionStatus[] = ['trialing', 'active', 'past_due'];

/** Dunning emails go out on these days after the first failed payment. */
export const DUNNING_DAYS = [0, 3, 7] as const;
/** Days of grace after the first failed payment before the downgrade to free (BILLING_GRACE_DAYS). */
export const DEFAULT_GRACE_DAYS = 14;

export const STRIPE_EVENT_TYPES = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.trial_will_end',
  'invoice.paid',
  'invoice.payment_failed',
] as const;
export type StripeEventType = (typeof STRIPE_EVENT_TYPES)[number];
/** `reconcile`: sent by the nightly billing-reconcile job or a manual refresh, objectId = subscription id. */
export type BillingEventType = StripeEventType | 'reconcile';

export function isHandledStripeEvent(type: string): type is StripeEventType {
  return (STRIPE_EVENT_TYPES as readonly string[]).includes(type);
}

/** What the webhook hands the workflow: a pointer, not the payload (the workflow re-fetches). */
export interface BillingEventRef {
  eventId: string;
  type: BillingEventType;
  /** The event's object id: cs_…, sub_…, in_…. */
  objectId: string;
  /** Stripe's `created`, unix seconds. */
  created: number;
}

export const STRIPE_SUBSCRIPTION_STATUSES = ['incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused'] as const;
export type StripeSubscriptionStatus = (typeof STRIPE_SUBSCRIPTION_STATUSES)[number];

/** Stripe's subscription, reduced to what the state machine needs (dates as ISO strings). */
export interface StripeSubscriptionSnapshot {
  subscriptionId: string;
  customerId: string;
  stripeStatus: StripeSubscriptionStatus;
  /** null when neither the price id nor the metadata names a plan we sell. */
  plan: PaidPlan | null;
  interval: BillingInterval | null;
  currentPeriodStart: string;
  currentPeriodEnd: string;
  cancelAtPeriodEnd: boolean;
  trialEnd: string | null;
}

export interface SubscriptionState {
  userId: string;
  status: SubscriptionStatus;
  /** What the user is entitled to right now (mirrored to User.plan). */
  plan: Plan;
  interval: BillingInterval | null;
  subscriptionId: string | null;
  customerId: string | null;
  currentPeriodStart: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  /** The plan that takes over at currentPeriodEnd (a downgrade, or free after a cancellation). */
  pendingPlan: Plan | null;
  /** When the first payment of the current dunning run failed. */
  pastDueSince: string | null;
  /** Dunning days already emailed in the current run. */
  dunningSent: number[];
  trialEnd: string | null;
  /** Start of the last credit allowance granted (monthly within yearly periods). */
  creditsGrantedFor: string | null;
}

export function initialSubscriptionState(userId: string): SubscriptionState {
  return {
    userId,
    status: 'none',
    plan: 'free',
    interval: null,
    subscriptionId: null,
    customerId: null,
    currentPeriodStart: null,
    currentPeriodEnd: null,
    cancelAtPeriodEnd: false,
    pendingPlan: null,
    pastDueSince: null,
    dunningSent: [],
    trialEnd: null,
    creditsGrantedFor: null,
  };
}

export function statusFromStripe(status: StripeSubscriptionStatus): SubscriptionStatus {
  switch (status) {
    case 'trialing':
      return 'trialing';
    case 'active':
      return 'active';
    case 'past_due':
    case 'unpaid':
      return 'past_due';
    case 'canceled':
      return 'canceled';
    case 'incomplete':
      return 'incomplete';
    case 'incomplete_expired':
    case 'paused':
      return 'expired';
  }
}

export const isLive = (status: SubscriptionStatus) => LIVE_STATUSES.includes(status);

/** Messages the state machine sends; texts in `billingMessage`. */
export type BillingMessageKind =
  | 'activated'
  | 'plan_upgraded'
  | 'downgrade_scheduled'
  | 'plan_downgraded'
  | 'payment_failed'
  | 'payment_recovered'
  | 'downgraded_unpaid'
  | 'cancel_scheduled'
  | 'canceled'
  | 'expired'
  | 'trial_will_end';

export type BillingEffect =
  /**
   * Reset the balance to the plan's allowance; `key` makes it once per period (credit-ledger).
   * With `topUpFrom` (an upgrade inside a paid period) the difference between the two
   * allowances is added to the current balance instead, once per key.
   */
  | { kind: 'grantCredits'; plan: Plan; key: string; reason: string; topUpFrom?: Plan }
  | { kind: 'notify'; message: BillingMessageKind; key: string; day?: number; /** The plan the message is about, when not the current one. */ plan?: Plan }
  /** Stop Stripe billing a subscription we gave up on (grace period over). */
  | { kind: 'cancelStripe'; subscriptionId: string };

export interface Transition {
  state: SubscriptionState;
  effects: BillingEffect[];
  /** A new billing period began: the workflow continues-as-new after applying. */
  newPeriod: boolean;
}

const grantKey = (userId: string, periodStart: string) => `grant:${userId}:${periodStart}`;

function grant(state: SubscriptionState, plan: Plan, periodStart: string, reason: string): BillingEffect {
  return { kind: 'grantCredits', plan, key: grantKey(state.userId, periodStart), reason };
}

/**
 * Folds Stripe's current subscription into the state. Idempotent: the same snapshot twice
 * changes nothing the second time and produces no effects.
 */
export function applyStripeTruth(before: SubscriptionState, snap: StripeSubscriptionSnapshot, now: Date): Transition {
  const status = statusFromStripe(snap.stripeStatus);
  // A late event about an older subscription must not touch a newer live one.
  if (before.subscriptionId && before.subscriptionId !== snap.subscriptionId && isLive(before.status) && !isLive(status)) {
    return { state: before, effects: [], newPeriod: false };
  }
  const sameSub = before.subscriptionId === snap.subscriptionId;
  const newPeriod = !sameSub || before.currentPeriodStart !== snap.currentPeriodStart;
  const effects: BillingEffect[] = [];
  // The subscription went on into a new period (paid or not yet): what was scheduled for the
  // boundary happened, before the status decides anything else.
  const prev = sameSub && newPeriod && isLive(status) ? settlePendingAtBoundary(before, snap, effects) : before;
  const state: SubscriptionState = {
    ...prev,
    subscriptionId: snap.subscriptionId,
    customerId: snap.customerId,
    interval: snap.interval ?? prev.interval,
    currentPeriodStart: snap.currentPeriodStart,
    currentPeriodEnd: snap.currentPeriodEnd,
    cancelAtPeriodEnd: snap.cancelAtPeriodEnd,
    trialEnd: snap.trialEnd,
    status,
  };
  const subKey = `${snap.subscriptionId}`;

  if (status === 'trialing' || status === 'active') {
    const target: Plan = snap.plan ?? prev.plan;
    if (prev.status === 'past_due') effects.push({ kind: 'notify', message: 'payment_recovered', key: `recovered:${subKey}:${prev.pastDueSince}` });
    state.pastDueSince = null;
    state.dunningSent = [];
    const upgrade = isUpgrade(prev.plan, target);
    if (target !== prev.plan && (upgrade || newPeriod || prev.plan === 'free' || !isLive(prev.status))) {
      // Upgrades, first activations and changes at a period boundary apply at once.
      state.plan = target;
      state.pendingPlan = null;
      const message: BillingMessageKind = prev.plan === 'free' ? 'activated' : upgrade ? 'plan_upgraded' : 'plan_downgraded';
      effects.push({ kind: 'notify', message, key: `plan:${subKey}:${snap.currentPeriodStart}:${target}` });
    } else if (target !== prev.plan) {
      // A downgrade inside the paid period waits for the period end.
      if (prev.pendingPlan !== target) effects.push({ kind: 'notify', message: 'downgrade_scheduled', plan: target, key: `downgrade:${subKey}:${snap.currentPeriodStart}:${target}` });
      state.pendingPlan = target;
    } else {
      state.pendingPlan = null;
    }
    // Credits reset once per paid period (the key makes a replay a no-op); an upgrade
    // inside a period adds the difference between the allowances at once.
    const grantedThisPeriod = prev.creditsGrantedFor !== null && new Date(prev.creditsGrantedFor).getTime() >= new Date(snap.currentPeriodStart).getTime();
    if (state.plan !== 'free' && !grantedThisPeriod) {
      effects.push(grant(state, state.plan, snap.currentPeriodStart, prev.plan === 'free' ? 'subscription started' : 'new billing period'));
      state.creditsGrantedFor = snap.currentPeriodStart;
    } else if (state.plan !== prev.plan && upgrade) {
      // Not a reset (that would refill a spent allowance on every up-and-down): the extra
      // allowance on top of what is left, once per subscription, period and plan.
      effects.push({ kind: 'grantCredits', plan: state.plan, topUpFrom: prev.plan, key: `upgrade:${snap.subscriptionId}:${snap.currentPeriodStart}:${state.plan}`, reason: `upgraded to ${state.plan}` });
    }
    if (snap.cancelAtPeriodEnd) {
      if (!prev.cancelAtPeriodEnd || !sameSub) effects.push({ kind: 'notify', message: 'cancel_scheduled', key: `cancel:${subKey}:${snap.currentPeriodEnd}` });
      state.pendingPlan = 'free';
    }
    return { state, effects, newPeriod: newPeriod && sameSub };
  }

  if (status === 'past_due') {
    if (prev.status !== 'past_due' || !sameSub) {
      state.pastDueSince = now.toISOString();
      state.dunningSent = [];
    }
    // First sight of this subscription (a new one, or a state that knew no live one, e.g. a
    // restarted workflow): the plan is Stripe's, not whatever the state held. A subscription
    // we already downgraded for non-payment does not get its plan back.
    const settledByUs = sameSub && prev.status === 'expired';
    if (snap.plan && (!sameSub || !isLive(prev.status)) && !settledByUs) {
      state.plan = snap.plan;
      state.pendingPlan = null;
    }
    return { state, effects, newPeriod: false };
  }

  if (status === 'canceled') {
    const endsLater = new Date(snap.currentPeriodEnd).getTime() > now.getTime();
    if (prev.status === 'canceled' && sameSub) return { state: { ...state, pendingPlan: prev.pendingPlan, plan: prev.plan }, effects: [], newPeriod: false };
    if (prev.status === 'expired' && sameSub) return { state: { ...prev }, effects: [], newPeriod: false };
    // Unpaid subscriptions lose the plan at once; paid ones keep it to the end of the period.
    if (endsLater && prev.status !== 'past_due' && prev.plan !== 'free') {
      state.pendingPlan = 'free';
      effects.push({ kind: 'notify', message: 'canceled', key: `canceled:${subKey}` });
      return { state, effects, newPeriod: false };
    }
    return expire(state, prev, 'expired', `expired:${subKey}`, now);
  }

  if (status === 'expired') return expire(state, prev, 'expired', `expired:${subKey}`, now);

  // incomplete: checkout started, first payment not through; nothing granted yet.
  return { state, effects, newPeriod: false };
}

/**
 * A new billing period of the same subscription began: a pending downgrade takes effect (the
 * same message key as the period-end timer, so whichever sees the boundary first tells the
 * user, once); a pending cancellation that did not happen (Stripe renewed), or a downgrade
 * Stripe did not make, is dropped.
 * Credits for the new period come from the status branches (granted once paid).
 */
function settlePendingAtBoundary(prev: SubscriptionState, snap: StripeSubscriptionSnapshot, effects: BillingEffect[]): SubscriptionState {
  if (!prev.pendingPlan || !prev.currentPeriodStart) return prev;
  if (new Date(snap.currentPeriodStart).getTime() <= new Date(prev.currentPeriodStart).getTime()) return prev;
  // Renewed (no cancellation), or renewed on another plan than the one we expected: Stripe's plan wins.
  if (prev.pendingPlan === 'free' || (snap.plan && snap.plan !== prev.pendingPlan)) return { ...prev, pendingPlan: null };
  const boundary = prev.currentPeriodEnd ?? snap.currentPeriodStart;
  effects.push({ kind: 'notify', message: 'plan_downgraded', key: `plan:${prev.subscriptionId}:${boundary}:${prev.pendingPlan}` });
  return { ...prev, plan: prev.pendingPlan, pendingPlan: null };
}

function expire(state: SubscriptionState, prev: SubscriptionState, message: BillingMessageKind, key: string, now: Date): Transition {
  const effects: BillingEffect[] = [];
  const next: SubscriptionState = { ...state, status: 'expired', plan: 'free', pendingPlan: null, pastDueSince: null, dunningSent: [], cancelAtPeriodEnd: false };
  if (prev.plan !== 'free') {
    const at = now.toISOString();
    effects.push(grant(next, 'free', `${at}:free`, 'subscription ended'));
    next.creditsGrantedFor = at;
    effects.push({ kind: 'notify', message, key });
  }
  return { state: next, effects, newPeriod: false };
}

/** Adds calendar months in UTC, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(date: Date, months: number): Date {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, 1, date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds(), date.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return d;
}

/** Next monthly credit reset inside a yearly billing period, or null (monthly plans reset on renewal). */
export function nextCreditReset(state: SubscriptionState): Date | null {
  if (state.interval !== 'year' || !isLive(state.status) || state.status === 'past_due' || state.plan === 'free') return null;
  if (!state.currentPeriodStart || !state.currentPeriodEnd || !state.creditsGrantedFor) return null;
  const start = new Date(state.currentPeriodStart);
  const end = new Date(state.currentPeriodEnd).getTime();
  const granted = new Date(state.creditsGrantedFor).getTime();
  for (let m = 1; m <= 12; m++) {
    const at = addMonths(start, m);
    if (at.getTime() >= end) return null;
    if (at.getTime() > granted) return at;
  }
  return null;
}

export type DeadlineKind = 'dunning' | 'grace' | 'periodEnd' | 'creditReset';
export interface Deadline {
  kind: DeadlineKind;
  at: Date;
  day?: number;
}

/** The earliest thing the workflow must do if no event comes first. */
export function nextDeadline(state: SubscriptionState, graceDays = DEFAULT_GRACE_DAYS): Deadline | null {
  const candidates: Deadline[] = [];
  if (state.status === 'past_due' && state.pastDueSince) {
    const since = new Date(state.pastDueSince).getTime();
    const day = DUNNING_DAYS.find((d) => d < graceDays && !state.dunningSent.includes(d));
    if (day !== undefined) candidates.push({ kind: 'dunning', at: new Date(since + day * DAY_MS), day });
    candidates.push({ kind: 'grace', at: new Date(since + graceDays * DAY_MS) });
  }
  if (state.pendingPlan && state.currentPeriodEnd && state.status !== 'expired') {
    candidates.push({ kind: 'periodEnd', at: new Date(state.currentPeriodEnd) });
  }
  const reset = nextCreditReset(state);
  if (reset) candidates.push({ kind: 'creditReset', at: reset });
  candidates.sort((a, b) => a.at.getTime() - b.at.getTime());
  return candidates[0] ?? null;
}

/** What happens when a deadline passes with no event (after the workflow re-checked Stripe). */
export function applyDeadline(prev: SubscriptionState, deadline: Deadline, now: Date): Transition {
  const effects: BillingEffect[] = [];
  if (now.getTime() < deadline.at.getTime()) return { state: prev, effects, newPeriod: false };
  switch (deadline.kind) {
    case 'dunning': {
      if (prev.status !== 'past_due' || deadline.day === undefined || prev.dunningSent.includes(deadline.day)) break;
      effects.push({ kind: 'notify', message: 'payment_failed', day: deadline.day, key: `dunning:${prev.subscriptionId}:${prev.pastDueSince}:${deadline.day}` });
      return { state: { ...prev, dunningSent: [...prev.dunningSent, deadline.day] }, effects, newPeriod: false };
    }
    case 'grace': {
      if (prev.status !== 'past_due') break;
      const t = expire(prev, prev, 'downgraded_unpaid', `unpaid:${prev.subscriptionId}:${prev.pastDueSince}`, now);
      if (prev.subscriptionId) t.effects.push({ kind: 'cancelStripe', subscriptionId: prev.subscriptionId });
      return t;
    }
    case 'periodEnd': {
      if (!prev.pendingPlan || !prev.currentPeriodEnd) break;
      if (prev.pendingPlan === 'free') return expire(prev, prev, 'expired', `expired:${prev.subscriptionId}:${prev.currentPeriodEnd}`, now);
      const state = { ...prev, plan: prev.pendingPlan, pendingPlan: null, creditsGrantedFor: prev.currentPeriodEnd };
      effects.push(grant(state, prev.pendingPlan, prev.currentPeriodEnd, `plan changed to ${prev.pendingPlan}`));
      effects.push({ kind: 'notify', message: 'plan_downgraded', key: `plan:${prev.subscriptionId}:${prev.currentPeriodEnd}:${prev.pendingPlan}` });
      return { state, effects, newPeriod: false };
    }
    case 'creditReset': {
      const at = deadline.at.toISOString();
      effects.push(grant(prev, prev.plan, at, 'monthly credits'));
      return { state: { ...prev, creditsGrantedFor: at }, effects, newPeriod: false };
    }
  }
  return { state: prev, effects, newPeriod: false };
}

/**
 * Why the database disagrees with Stripe (missed webhook), or null when they agree.
 * `stored` is what the workflow last applied (the Subscription row).
 */
export function driftBetween(
  stored: Pick<SubscriptionState, 'status' | 'plan' | 'pendingPlan' | 'subscriptionId' | 'currentPeriodEnd' | 'cancelAtPeriodEnd'>,
  snap: StripeSubscriptionSnapshot,
): string | null {
  const status = statusFromStripe(snap.stripeStatus);
  if (stored.subscriptionId !== snap.subscriptionId) return `subscription ${snap.subscriptionId} unknown locally`;
  const storedSettled = stored.status === 'expired' && (status === 'canceled' || status === 'expired');
  if (status !== stored.status && !storedSettled) return `status ${stored.status} locally, ${status} at Stripe`;
  if (isLive(status)) {
    if (stored.currentPeriodEnd && new Date(stored.currentPeriodEnd).getTime() !== new Date(snap.currentPeriodEnd).getTime()) return 'billing period differs';
    if (stored.cancelAtPeriodEnd !== snap.cancelAtPeriodEnd) return 'cancel-at-period-end differs';
    if (snap.plan && snap.plan !== stored.plan && snap.plan !== stored.pendingPlan) return `plan ${stored.plan} locally, ${snap.plan} at Stripe`;
  }
  return null;
}

/** Texts of the billing emails and in-app notices. */
export function billingMessage(kind: BillingMessageKind, ctx: { plan: Plan; periodEnd?: string | null; graceDays?: number; day?: number; trialEnd?: string | null }): { subject: string; text: string } {
  const date = (iso?: string | null) => (iso ? iso.slice(0, 10) : 'the end of the period');
  const name = ctx.plan[0].toUpperCase() + ctx.plan.slice(1);
  switch (kind) {
    case 'activated':
      return { subject: `Your ${name} plan is active`, text: `Thank you! Your ${name} plan is active; your analysis credits have been topped up.` };
    case 'plan_upgraded':
      return { subject: `Upgraded to ${name}`, text: `Your plan is now ${name}, effective immediately.` };
    case 'downgrade_scheduled':
      return { subject: `Plan change to ${name} scheduled`, text: `Your plan changes to ${name} on ${date(ctx.periodEnd)}; until then nothing changes.` };
    case 'plan_downgraded':
      return { subject: `Your plan is now ${name}`, text: `As scheduled, your plan is now ${name}.` };
    case 'payment_failed': {
      const left = Math.max(0, (ctx.graceDays ?? DEFAULT_GRACE_DAYS) - (ctx.day ?? 0));
      return {
        subject: ctx.day ? `Reminder: your payment is still outstanding (day ${ctx.day})` : 'Your payment failed',
        text: `We could not collect your subscription payment. Please update your payment method in the billing portal; your ${name} plan stays active for ${left} more days.`,
      };
    }
    case 'payment_recovered':
      return { subject: 'Payment received', text: `Thank you, your payment went through. Your ${name} plan continues.` };
    case 'downgraded_unpaid':
      return { subject: 'Your plan was downgraded to Free', text: 'We could not collect your payment within the grace period, so your account is now on the Free plan.' };
    case 'cancel_scheduled':
      return { subject: 'Your subscription will end', text: `Your subscription is canceled and stays active until ${date(ctx.periodEnd)}.` };
    case 'canceled':
      return { subject: 'Your subscription was canceled', text: `Your subscription was canceled; you keep your current plan until ${date(ctx.periodEnd)}.` };
    case 'expired':
      return { subject: 'Your subscription has ended', text: 'Your subscription has ended and your account is now on the Free plan.' };
    case 'trial_will_end':
      return { subject: 'Your trial ends soon', text: `Your trial ends on ${date(ctx.trialEnd)}. Add a payment method in the billing portal to keep your ${name} plan.` };
  }
}
