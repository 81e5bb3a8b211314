import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { routeBuilder } from '../http/route';
import { HttpError } from '../http/errors';
import { Subscription, User } from '../../entities';
import { getBalance } from '../../entities/credit-ledger';
import { stripePriceId } from '../../config';
import { BILLING_INTERVALS, PAID_PLANS, PLANS, entitlementsOf } from '../../domain/plans';
import { SUBSCRIPTION_STATUSES, isLive, type StripeSubscriptionStatus } from '../../domain/subscription';
import { assertBillingConfigured, missingBillingSettings, subscriptionSnapshot, type BillingNeed, type Stripe } from '../../adapters/stripe';
import { ensurePortalConfiguration } from '../../adapters/stripe/portal';
import { deliverBillingEvent, querySubscriptionState } from '../../workflows/billing/client';
import type { SubscriptionLiveState } from '../../workflows/billing/messages';
import { subscriptionWorkflowId } from '../../workflows/ids';

export const CheckoutBody = z.strictObject({
  plan: z.enum(PAID_PLANS, { message: `must be one of ${PAID_PLANS.join(', ')}` }),
  interval: z.enum(BILLING_INTERVALS, { message: `must be one of ${BILLING_INTERVALS.join(', ')}` }),
});
const UrlView = z.object({ url: z.string() });
const CheckoutView = UrlView.extend({ sessionId: z.string(), plan: z.enum(PAID_PLANS), interval: z.enum(BILLING_INTERVALS) });
const SubscriptionView = z.object({
  plan: z.enum(PLANS),
  status: z.enum(SUBSCRIPTION_STATUSES),
  interval: z.enum(BILLING_INTERVALS).nullable(),
  currentPeriodEnd: z.string().nullable(),
  cancelAtPeriodEnd: z.boolean(),
  pendingPlan: z.enum(PLANS).nullable(),
  pastDueSince: z.string().nullable(),
  entitlements: z.object({ monthlyAnalysisCredits: z.number(), maxActiveListings: z.number(), listingDurationDays: z.number() }),
  credits: z.object({ balance: z.number(), reserved: z.number() }),
  checkout: z.object({ plan: z.enum(PLANS), interval: z.enum(BILLING_INTERVALS).nullable(), sessionId: z.string().nullable() }).nullable(),
  billing: z.object({ configured: z.boolean(), missingSettings: z.array(z.string()) }),
  workflow: z.object({ workflowId: z.string(), state: z.record(z.string(), z.unknown()).nullable(), error: z.string().optional() }),
});

const QUERY_TIMEOUT_MS = 3000;
/**
 * Stripe statuses in which a customer already has a subscription: a second checkout would
 * bill them twice. `incomplete` included (first payment still pending, e.g. 3-D Secure).
 */
export const CHECKOUT_BLOCKING_STATUSES: readonly StripeSubscriptionStatus[] = ['trialing', 'active', 'past_due', 'incomplete', 'unpaid'];

/** Stripe failures as HTTP answers: unreachable → 503, anything Stripe refused → 502 (never a bare 500). */
async function viaStripe<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const e = err as { type?: string; message?: string; statusCode?: number; code?: string };
    if (e?.type === 'StripeConnectionError') throw new HttpError(503, `The payment provider is unreachable (${what}); try again later`);
    if (typeof e?.type === 'string' && e.type.startsWith('Stripe')) {
      // Stripe's own wording can name accounts, objects and settings: it goes to the log only.
      throw Object.assign(new HttpError(502, `The payment provider refused to ${what}; nothing was changed`), { cause: err, providerMessage: e.message, providerCode: e.code });
    }
    throw err;
  }
}

/** Checkout, customer portal, cancellation and the subscription as a client sees it. */
export function createBillingRouter(deps: AppDeps, ctx: MountContext) {
  const { config } = deps;
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/billing', tag: 'billing', authenticate: ctx.authenticate });

  function stripe(needs: BillingNeed[]): Stripe {
    assertBillingConfigured(config, needs);
    if (!deps.stripe) throw new HttpError(503, 'Billing is not configured: set STRIPE_SECRET_KEY', { missing: ['STRIPE_SECRET_KEY'] });
    return deps.stripe;
  }

  /** The user's Stripe customer, created once (idempotency key + conditional write) and remembered. */
  async function ensureCustomer(api: Stripe, em: EntityManager, user: User): Promise<string> {
    if (user.stripeCustomerId) return user.stripeCustomerId;
    const customer = await viaStripe('create the customer', () =>
      api.customers.create({ email: user.email, name: `${user.firstName} ${user.lastName}`.trim(), metadata: { userId: user.id } }, { idempotencyKey: `customer:${user.id}` }),
    );
    await em.nativeUpdate(User, { id: user.id, stripeCustomerId: null }, { stripeCustomerId: customer.id });
    const stored = (await em.fork().findOneOrFail(User, { id: user.id })).stripeCustomerId!;
    user.stripeCustomerId = stored;
    return stored;
  }

  /**
   * The customer-portal configuration (see adapters/stripe/portal.ts), resolved once per
   * process; a failure is not cached, the next request tries again.
   */
  let portalConfiguration: Promise<string> | null = null;
  function portalConfigurationId(api: Stripe): Promise<string> {
    portalConfiguration ??= viaStripe('set up the customer portal', () => ensurePortalConfiguration(api, config)).catch((err) => {
      portalConfiguration = null;
      throw err;
    });
    return portalConfiguration;
  }

  async function liveState(userId: string): Promise<{ state: SubscriptionLiveState | null; error?: string }> {
    try {
      const client = await deps.temporal.client();
      const query = querySubscriptionState(client, userId);
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${QUERY_TIMEOUT_MS} ms`)), QUERY_TIMEOUT_MS).unref());
      return { state: await Promise.race([query, timeout]) };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { state: null };
      deps.logger.warn({ err, userId }, 'billing: subscription workflow query failed');
      return { state: null, error: 'live state unavailable right now' };
    }
  }

  r.post(
    '/checkout',
    {
      summary: 'Start a Stripe Checkout for a plan and interval; answers the URL to send the user to',
      description: 'Refused with 409 while a subscription is live: plan changes and cancellation go through the customer portal.',
      body: CheckoutBody,
      response: CheckoutView,
      errors: [409, 503],
    },
    async ({ body, em, user }) => {
      const api = stripe(['api', { plan: body.plan, interval: body.interval }]);
      const price = stripePriceId(config, body.plan, body.interval)!;
      const account = await em.findOneOrFail(User, { id: user.id });
      const row = await em.findOne(Subscription, { userId: user.id });
      // Stripe decides, not our row (a webhook may not have arrived yet): no customer, no subscription.
      if (account.stripeCustomerId) {
        const customer = account.stripeCustomerId;
        const existing = await viaStripe('list your subscriptions', async () => {
          for await (const s of api.subscriptions.list({ customer, limit: 100 })) {
            if (CHECKOUT_BLOCKING_STATUSES.includes(s.status as StripeSubscriptionStatus)) return s;
          }
          return null;
        });
        if (existing) {
          const plan = subscriptionSnapshot(config, existing).plan;
          throw new HttpError(409, `Already subscribed (${plan ?? 'subscription'} ${existing.status}): use the customer portal to change or cancel it (POST /api/billing/portal)`, {
            portal: '/api/billing/portal',
            subscriptionId: existing.id,
            plan,
            status: existing.status,
          });
        }
      }
      const customerId = await ensureCustomer(api, em, account);
      const metadata = { userId: user.id, plan: body.plan, interval: body.interval };
      const successUrl = `${config.BILLING_SUCCESS_URL}${config.BILLING_SUCCESS_URL.includes('?') ? '&' : '?'}session_id={CHECKOUT_SESSION_ID}`;
      const session = await viaStripe('create the checkout session', () => api.checkout.sessions.create({
        mode: 'subscription',
        customer: customerId,
        client_reference_id: user.id,
        line_items: [{ price, quantity: 1 }],
        success_url: successUrl,
        cancel_url: config.BILLING_CANCEL_URL,
        metadata,
        subscription_data: { metadata },
      }));
      if (!session.url) throw new HttpError(502, 'Stripe returned a checkout session without a URL');
      const sub = row ?? em.create(Subscription, { userId: user.id });
      em.assign(sub, { stripeCustomerId: customerId, checkoutPlan: body.plan, checkoutInterval: body.interval, checkoutSessionId: session.id });
      await em.flush();
      return { url: session.url, sessionId: session.id, plan: body.plan, interval: body.interval };
    },
  );

  r.post('/portal', { summary: 'A Stripe customer-portal URL (change plan, payment method, invoices, cancel)', response: UrlView, errors: [409, 503] }, async ({ em, user }) => {
    const api = stripe(['api']);
    const account = await em.findOneOrFail(User, { id: user.id });
    if (!account.stripeCustomerId) throw new HttpError(409, 'No billing account yet: start a subscription with POST /api/billing/checkout first');
    const customer = account.stripeCustomerId;
    const configuration = await portalConfigurationId(api);
    const session = await viaStripe('open the customer portal', () => api.billingPortal.sessions.create({ customer, return_url: config.BILLING_PORTAL_RETURN_URL, configuration }));
    return { url: session.url };
  });

  r.get('/subscription', { summary: 'My plan, subscription status, period end, credits left and the workflow’s live state', response: SubscriptionView }, async ({ em, user }) => {
    const [account, row, credits] = await Promise.all([em.findOneOrFail(User, { id: user.id }), em.findOne(Subscription, { userId: user.id }), getBalance(em, user.id)]);
    const { priceCents: _price, ...entitlements } = entitlementsOf(account.plan);
    const missing = missingBillingSettings(config, ['api', 'webhook']);
    const live = await liveState(user.id);
    return {
      plan: account.plan,
      status: row?.status ?? 'none',
      interval: row?.interval ?? null,
      currentPeriodEnd: row?.currentPeriodEnd?.toISOString() ?? null,
      cancelAtPeriodEnd: row?.cancelAtPeriodEnd ?? false,
      pendingPlan: row?.pendingPlan ?? null,
      pastDueSince: row?.pastDueSince?.toISOString() ?? null,
      entitlements,
      credits,
      checkout: row?.checkoutPlan ? { plan: row.checkoutPlan, interval: row.checkoutInterval ?? null, sessionId: row.checkoutSessionId ?? null } : null,
      billing: { configured: missing.length === 0, missingSettings: missing },
      workflow: { workflowId: subscriptionWorkflowId(user.id), ...live },
    };
  });

  r.post(
    '/cancel',
    {
      summary: 'Cancel at the end of the current period (through Stripe; the webhook then updates the state)',
      description: 'Always asks Stripe (also when the local row already says so) and answers from Stripe’s reply.',
      status: 202,
      errors: [409, 502, 503],
    },
    async ({ em, user }) => {
      const api = stripe(['api']);
      const row = await em.findOne(Subscription, { userId: user.id });
      if (!row?.stripeSubscriptionId || !isLive(row.status)) throw new HttpError(409, 'No active subscription to cancel');
      const subscriptionId = row.stripeSubscriptionId;
      const sub = await viaStripe('cancel the subscription', () => api.subscriptions.update(subscriptionId, { cancel_at_period_end: true }));
      if (!sub.cancel_at_period_end) throw new HttpError(502, 'Stripe did not schedule the cancellation; try again');
      const snap = subscriptionSnapshot(config, sub);
      const plan = snap.plan ?? row.plan;
      return {
        cancelAtPeriodEnd: sub.cancel_at_period_end,
        currentPeriodEnd: snap.currentPeriodEnd,
        message: `Your ${plan} plan stays active until ${snap.currentPeriodEnd.slice(0, 10)}, then your account moves to Free.`,
      };
    },
  );

  r.post(
    '/subscription/refresh',
    { summary: 'Ask the subscription workflow to re-read Stripe now (e.g. back from checkout)', status: 202, errors: [409, 503] },
    async ({ em, user }) => {
      stripe(['api']);
      const account = await em.findOneOrFail(User, { id: user.id });
      const row = await em.findOne(Subscription, { userId: user.id });
      if (!row?.stripeSubscriptionId && !account.stripeCustomerId) throw new HttpError(409, 'No Stripe subscription yet: start one with POST /api/billing/checkout');
      const client = await deps.temporal.client();
      const now = Date.now();
      await deliverBillingEvent(client, user.id, { eventId: `refresh:${user.id}:${now}`, type: 'reconcile', objectId: row?.stripeSubscriptionId ?? '', created: Math.floor(now / 1000) }, account.plan, config.BILLING_GRACE_DAYS);
      return { workflowId: subscriptionWorkflowId(user.id), refreshing: true };
    },
  );

  return router;
}
