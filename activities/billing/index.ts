import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import { Subscription, User } from '../../entities';
import { grantPeriodCredits, type CreditBalance } from '../../entities/credit-ledger';
import { ErrorType } from '../../domain/errors';
import { entitlementsOf, type Plan } from '../../domain/plans';
import { driftBetween, type BillingEventType, type StripeSubscriptionSnapshot, type SubscriptionState } from '../../domain/subscription';
import { invoiceSubscriptionId, isResourceMissing, missingBillingSettings, subscriptionSnapshot, type Stripe } from '../../adapters/stripe';
import { deliverBillingEvent } from '../../adapters/stripe/deliver';

export interface BillingDrift {
  userId: string;
  subscriptionId: string;
  reason: string;
}

const idOf = (v: string | { id: string } | null | undefined): string | null => (typeof v === 'string' ? v : (v?.id ?? null));
const date = (iso: string | null) => (iso ? new Date(iso) : null);

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

  async function orNull<T>(p: Promise<T>): Promise<T | null> {
    try {
      return await p;
    } catch (err) {
      if (isResourceMissing(err)) return null;
      throw err;
    }
  }

  return {
    /** Stripe's current subscription behind an event (session, invoice or subscription id). */
    async fetchStripeSubscription(input: { userId: string; type: BillingEventType; objectId: string; knownSubscriptionId: string | null }): Promise<StripeSubscriptionSnapshot | null> {
      const api = stripe();
      let subscriptionId: string | null = null;
      if (input.type === 'reconcile' || input.type.startsWith('customer.subscription.')) subscriptionId = input.objectId || null;
      else if (input.type === 'checkout.session.completed') subscriptionId = idOf((await orNull(api.checkout.sessions.retrieve(input.objectId)))?.subscription);
      else if (input.type.startsWith('invoice.')) {
        const invoice = await orNull(api.invoices.retrieve(input.objectId));
        subscriptionId = invoice ? invoiceSubscriptionId(invoice) : null;
      }
      const em = orm.em.fork();
      if (!subscriptionId) subscriptionId = input.knownSubscriptionId ?? (await em.findOne(Subscription, { userId: input.userId }))?.stripeSubscriptionId ?? null;
      if (!subscriptionId) {
        const customer = (await em.findOne(User, { id: input.userId }))?.stripeCustomerId;
        if (customer) subscriptionId = (await api.subscriptions.list({ customer, status: 'all', limit: 1 })).data[0]?.id ?? null;
      }
      if (!subscriptionId) return null;
      const sub = await orNull(api.subscriptions.retrieve(subscriptionId));
      return sub ? subscriptionSnapshot(config, sub) : null;
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

    /** Resets the credit balance to the plan's allowance, once per key. */
    async grantPlanCredits(input: { userId: string; plan: Plan; key: string; reason: string }): Promise<CreditBalance> {
      return grantPeriodCredits(orm.em.fork(), input.userId, entitlementsOf(input.plan).monthlyAnalysisCredits, input.key, input.reason);
    },

    /** Stops Stripe billing a subscription we downgraded for non-payment. */
    async cancelStripeSubscription(input: { subscriptionId: string }): Promise<{ status: string }> {
      const sub = await orNull(stripe().subscriptions.cancel(input.subscriptionId, {}, { idempotencyKey: `cancel-unpaid:${input.subscriptionId}` }));
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
        const sub = await orNull(api.subscriptions.retrieve(row.stripeSubscriptionId!));
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

    /** Live Stripe subscriptions of our customers that the database does not know (missed checkout webhook). */
    async findUntrackedSubscriptions(): Promise<BillingDrift[]> {
      const api = stripe();
      const em = orm.em.fork();
      const drifts: BillingDrift[] = [];
      const subs: Stripe.Subscription[] = [];
      for await (const sub of api.subscriptions.list({ status: 'active', limit: 100 })) {
        subs.push(sub);
        if (subs.length >= 10_000) break;
      }
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

    /** Nudges the workflows of drifted users; each re-fetches Stripe and converges. */
    async signalSubscriptionWorkflows(input: { drifts: BillingDrift[]; runKey: string }): Promise<{ signalled: number }> {
      const client = Context.current().client;
      const em = orm.em.fork();
      let signalled = 0;
      for (const drift of input.drifts) {
        const user = await em.findOne(User, { id: drift.userId });
        if (!user) continue;
        await deliverBillingEvent(
          client,
          drift.userId,
          { eventId: `reconcile:${input.runKey}:${drift.subscriptionId}`, type: 'reconcile', objectId: drift.subscriptionId, created: Math.floor(Date.now() / 1000) },
          user.plan,
          config.BILLING_GRACE_DAYS,
        );
        logger.info({ userId: drift.userId, subscriptionId: drift.subscriptionId, reason: drift.reason }, 'billing drift: workflow signalled');
        signalled += 1;
      }
      return { signalled };
    },
  };
}

export type BillingActivities = ReturnType<typeof createBillingActivities>;
