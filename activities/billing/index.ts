import { ApplicationFailure } from '@temporalio/common';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import { Subscription, User } from '../../entities';
import { addCredits, grantPeriodCredits, type CreditBalance } from '../../entities/credit-ledger';
import { ErrorType } from '../../domain/errors';
import { entitlementsOf, type Plan } from '../../domain/plans';
import {
  driftBetween,
  isLive,
  statusFromStripe,
  type BillingEventType,
  type StripeSubscriptionSnapshot,
  type StripeSubscriptionStatus,
  type SubscriptionState,
} from '../../domain/subscription';
import { invoiceSubscriptionId, isPermanentStripeError, isResourceMissing, missingBillingSettings, subscriptionSnapshot, STRIPE_REJECTED, type Stripe } from '../../adapters/stripe';

export interface BillingDrift {
  userId: string;
  subscriptionId: string;
  reason: string;
}

const idOf = (v: string | { id: string } | null | undefined): string | null => (typeof v === 'string' ? v : (v?.id ?? null));
const date = (iso: string | null) => (iso ? new Date(iso) : null);

/** Stripe statuses whose subscriptions still bill (listed one status at a time by the untracked scan). */
export const UNTRACKED_SCAN_STATUSES = ['trialing', 'active', 'past_due', 'unpaid'] as const satisfies readonly StripeSubscriptionStatus[];
/** Per status, how many subscriptions one untracked scan reads at most. */
export const UNTRACKED_SCAN_CAP = 10_000;

/** A Stripe refusal no retry can change becomes non-retryable; anything else is left to the retry policy. */
function stripeFailure(err: unknown, what: string): unknown {
  if (!isPermanentStripeError(err)) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  return ApplicationFailure.nonRetryable(`Stripe refused to ${what} (${e.statusCode}${e.code ? ` ${e.code}` : ''}): ${e.message}`, STRIPE_REJECTED);
}

/**
 * Billing activities: read Stripe's truth, apply entitlements (User.plan, the Subscription
 * row, period credits), give up on unpaid subscriptions, and the nightly reconcile. Each is
 * idempotent: writes are absolute values or keyed (credits), Stripe writes carry an
 * idempotency key.
 */
export function createBillingActivities(deps: { orm: MikroORM; config: Config; stripe: Stripe | null; logger: Logger }) {
  const { orm, config, logger } = deps;

  function stripe(): Stripe {
    if (!deps.stripe) {
      // Retryable on purpose: the workflow waits (with backoff) until billing is configured.
      throw ApplicationFailure.retryable(`Billing is not configured: set ${missingBillingSettings(config, ['api']).join(', ')}`, ErrorType.ServiceUnavailable);
    }
    return deps.stripe;
  }

  /** The Stripe object, null when it does not exist; a permanent refusal is non-retryable. */
  async function orNull<T>(p: Promise<T>, what: string): Promise<T | null> {
    try {
      return await p;
    } catch (err) {
      if (isResourceMissing(err)) return null;
      throw stripeFailure(err, what);
    }
  }

  return {
    /** Stripe's current subscription behind an event (session, invoice or subscription id). */
    async fetchStripeSubscription(input: { userId: string; type: BillingEventType; objectId: string; knownSubscriptionId: string | null }): Promise<StripeSubscriptionSnapshot | null> {
      const api = stripe();
      let subscriptionId: string | null = null;
      if (input.type === 'reconcile' || input.type.startsWith('customer.subscription.')) subscriptionId = input.objectId || null;
      else if (input.type === 'checkout.session.completed') subscriptionId = idOf((await orNull(api.checkout.sessions.retrieve(input.objectId), 'read the checkout session'))?.subscription);
      else if (input.type.startsWith('invoice.')) {
        const invoice = await orNull(api.invoices.retrieve(input.objectId), 'read the invoice');
        subscriptionId = invoice ? invoiceSubscriptionId(invoice) : null;
      }
      const em = orm.em.fork();
      if (!subscriptionId) subscriptionId = input.knownSubscriptionId ?? (await em.findOne(Subscription, { userId: input.userId }))?.stripeSubscriptionId ?? null;
      if (!subscriptionId) {
        const customer = (await em.findOne(User, { id: input.userId }))?.stripeCustomerId;
        if (customer) subscriptionId = (await orNull(api.subscriptions.list({ customer, status: 'all', limit: 1 }), 'list the customer’s subscriptions'))?.data[0]?.id ?? null;
      }
      if (!subscriptionId) return null;
      const sub = await orNull(api.subscriptions.retrieve(subscriptionId), 'read the subscription');
      if (!sub) return null;
      // The id came from an event, a session or an earlier state: whatever it says, only a
      // subscription billed to this user's own Stripe customer may change this user's plan.
      const own = (await em.findOne(User, { id: input.userId }))?.stripeCustomerId ?? null;
      const billed = idOf(sub.customer);
      if (!own || billed !== own) {
        throw ApplicationFailure.nonRetryable(
          `Stripe subscription ${sub.id} is billed to customer ${billed ?? 'none'}, not to user ${input.userId}'s customer ${own ?? '(none yet)'}: ignored`,
          STRIPE_REJECTED,
        );
      }
      return subscriptionSnapshot(config, sub);
    },

    /**
     * What an earlier run last applied (the Subscription row), for a run that starts without
     * a carried-over state (e.g. after a failed or terminated run); null when there is no row.
     * Dunning days are not stored: they start empty, and the email keys make a re-sent day a no-op.
     */
    async loadSubscriptionState(input: { userId: string }): Promise<SubscriptionState | null> {
      const row = await orm.em.fork().findOne(Subscription, { userId: input.userId });
      if (!row) return null;
      const iso = (d: Date | null | undefined) => d?.toISOString() ?? null;
      const live = isLive(row.status) && row.plan !== 'free';
      return {
        userId: input.userId,
        status: row.status,
        plan: row.plan,
        interval: row.interval ?? null,
        subscriptionId: row.stripeSubscriptionId ?? null,
        customerId: row.stripeCustomerId ?? null,
        currentPeriodStart: iso(row.currentPeriodStart),
        currentPeriodEnd: iso(row.currentPeriodEnd),
        cancelAtPeriodEnd: row.cancelAtPeriodEnd,
        pendingPlan: row.pendingPlan ?? null,
        pastDueSince: row.status === 'past_due' ? iso(row.pastDueSince) : null,
        dunningSent: [],
        trialEnd: iso(row.trialEnd),
        // The period's grant is keyed, so "granted at the period start" is safe: a missed one is
        // granted by the next monthly reset or renewal, a done one is not repeated.
        creditsGrantedFor: live ? iso(row.currentPeriodStart) : null,
      };
    },

    /** Mirrors the workflow's state to the Subscription row and User.plan, in one transaction. */
    async applyEntitlements(state: SubscriptionState): Promise<{ plan: Plan }> {
      const write = () =>
        orm.em.fork().transactional(async (em) => {
          const user = await em.findOne(User, { id: state.userId });
          if (!user) throw ApplicationFailure.nonRetryable(`user ${state.userId} not found`, ErrorType.NotFound);
          const row = (await em.findOne(Subscription, { userId: state.userId })) ?? em.create(Subscription, { userId: state.userId });
          em.assign(row, {
            stripeCustomerId: state.customerId ?? row.stripeCustomerId ?? null,
            stripeSubscriptionId: state.subscriptionId,
            plan: state.plan,
            interval: state.interval,
            status: state.status,
            currentPeriodStart: date(state.currentPeriodStart),
            currentPeriodEnd: date(state.currentPeriodEnd),
            cancelAtPeriodEnd: state.cancelAtPeriodEnd,
            pendingPlan: state.pendingPlan,
            pastDueSince: date(state.pastDueSince),
            trialEnd: date(state.trialEnd),
            syncedAt: new Date(),
          });
          user.plan = state.plan;
          await em.flush();
        });
      try {
        await write();
      } catch (err) {
        // Two first writes racing on the unique userId: the second one updates.
        if (!(err instanceof UniqueConstraintViolationException)) throw err;
        await write();
      }
      logger.info({ userId: state.userId, plan: state.plan, status: state.status }, 'entitlements applied');
      return { plan: state.plan };
    },

    /**
     * Resets the credit balance to the plan's allowance, once per key; with `topUpFrom` (an
     * upgrade inside a period) adds the difference between the two allowances instead.
     */
    async grantPlanCredits(input: { userId: string; plan: Plan; key: string; reason: string; topUpFrom?: Plan }): Promise<CreditBalance> {
      const allowance = entitlementsOf(input.plan).monthlyAnalysisCredits;
      if (input.topUpFrom) {
        const extra = Math.max(0, allowance - entitlementsOf(input.topUpFrom).monthlyAnalysisCredits);
        return addCredits(orm.em.fork(), input.userId, extra, input.key, input.reason);
      }
      return grantPeriodCredits(orm.em.fork(), input.userId, allowance, input.key, input.reason);
    },

    /** Stops Stripe billing a subscription we downgraded for non-payment. */
    async cancelStripeSubscription(input: { subscriptionId: string }): Promise<{ status: string }> {
      const sub = await orNull(stripe().subscriptions.cancel(input.subscriptionId, {}, { idempotencyKey: `cancel-unpaid:${input.subscriptionId}` }), 'cancel the subscription');
      return { status: sub?.status ?? 'missing' };
    },

    /** One page of local subscriptions compared with Stripe. */
    async findBillingDrift(input: { cursor: string | null; limit: number }): Promise<{ drifts: BillingDrift[]; checked: number; nextCursor: string | null }> {
      const api = stripe();
      const em = orm.em.fork();
      const rows = await em.find(
        Subscription,
        { stripeSubscriptionId: { $ne: null }, ...(input.cursor ? { id: { $gt: input.cursor } } : {}) },
        { orderBy: { id: 'asc' }, limit: input.limit },
      );
      const drifts: BillingDrift[] = [];
      for (const row of rows) {
        let sub: Stripe.Subscription | null;
        try {
          sub = await orNull(api.subscriptions.retrieve(row.stripeSubscriptionId!), 'read the subscription');
        } catch (err) {
          // One subscription Stripe refuses to show must not stop the whole nightly pass.
          if (!(err instanceof ApplicationFailure) || err.type !== STRIPE_REJECTED) throw err;
          logger.warn({ userId: row.userId, subscriptionId: row.stripeSubscriptionId, err: err.message }, 'billing drift: subscription skipped');
          continue;
        }
        if (!sub) {
          if (['trialing', 'active', 'past_due'].includes(row.status)) drifts.push({ userId: row.userId, subscriptionId: row.stripeSubscriptionId!, reason: 'missing at Stripe' });
          continue;
        }
        const reason = driftBetween(
          {
            status: row.status,
            plan: row.plan,
            pendingPlan: row.pendingPlan ?? null,
            subscriptionId: row.stripeSubscriptionId ?? null,
            currentPeriodEnd: row.currentPeriodEnd?.toISOString() ?? null,
            cancelAtPeriodEnd: row.cancelAtPeriodEnd,
          },
          subscriptionSnapshot(config, sub),
        );
        if (reason) drifts.push({ userId: row.userId, subscriptionId: sub.id, reason });
      }
      return { drifts, checked: rows.length, nextCursor: rows.length === input.limit ? rows[rows.length - 1].id : null };
    },

    /**
     * Live Stripe subscriptions (trialing, active, past_due, unpaid) of our customers that the
     * database does not know (missed checkout webhook). Listed one status at a time, so the
     * ever-growing canceled history is never paged through; each status is capped (logged).
     */
    async findUntrackedSubscriptions(input: { capPerStatus?: number } = {}): Promise<BillingDrift[]> {
      const api = stripe();
      const em = orm.em.fork();
      const cap = input?.capPerStatus ?? UNTRACKED_SCAN_CAP;
      const drifts: BillingDrift[] = [];
      const byId = new Map<string, Stripe.Subscription>();
      for (const status of UNTRACKED_SCAN_STATUSES) {
        let read = 0;
        try {
          for await (const sub of api.subscriptions.list({ status, limit: 100 })) {
            if (isLive(statusFromStripe(sub.status as StripeSubscriptionStatus))) byId.set(sub.id, sub);
            if (++read >= cap) {
              logger.warn({ status, cap }, 'untracked-subscription scan reached its cap: the rest of this status is not checked in this run');
              break;
            }
          }
        } catch (err) {
          throw stripeFailure(err, `list ${status} subscriptions`);
        }
      }
      const subs = [...byId.values()];
      const customers = [...new Set(subs.map((s) => idOf(s.customer)).filter((c): c is string => Boolean(c)))];
      if (!customers.length) return drifts;
      const users = await em.find(User, { stripeCustomerId: { $in: customers } });
      const rows = await em.find(Subscription, { userId: { $in: users.map((u) => u.id) } });
      for (const sub of subs) {
        const user = users.find((u) => u.stripeCustomerId === idOf(sub.customer));
        if (!user) continue;
        const row = rows.find((r) => r.userId === user.id);
        if (row?.stripeSubscriptionId !== sub.id) drifts.push({ userId: user.id, subscriptionId: sub.id, reason: 'live at Stripe, unknown locally' });
      }
      return drifts;
    },
  };
}

export type BillingActivities = ReturnType<typeof createBillingActivities>;
