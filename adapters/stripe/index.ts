import Stripe from 'stripe';
import { stripePriceId, type Config } from '../../config';
import { DomainError, ErrorType } from '../../domain/errors';
import { BILLING_INTERVALS, PAID_PLANS, type BillingInterval, type PaidPlan } from '../../domain/plans';
import { STRIPE_SUBSCRIPTION_STATUSES, type StripeSubscriptionSnapshot, type StripeSubscriptionStatus } from '../../domain/subscription';

export type { Stripe };

/**
 * The Stripe client, or null when STRIPE_SECRET_KEY is unset (billing answers 503 then).
 * STRIPE_API_BASE points the SDK at stripe-mock (or any Stripe-compatible endpoint).
 */
export function createStripeClient(config: Config): Stripe | null {
  if (!config.STRIPE_SECRET_KEY) return null;
  const base = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : null;
  return new Stripe(config.STRIPE_SECRET_KEY, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    ...(base
      ? {
          host: base.hostname,
          port: base.port || (base.protocol === 'http:' ? 80 : 443),
          protocol: base.protocol.replace(':', '') as 'http' | 'https',
        }
      : {}),
  });
}

export type BillingNeed = 'api' | 'webhook' | { plan: PaidPlan; interval: BillingInterval };

export function priceSettingName(plan: PaidPlan, interval: BillingInterval): string {
  return `STRIPE_PRICE_${plan.toUpperCase()}_${interval === 'month' ? 'MONTHLY' : 'YEARLY'}`;
}

/** Names of the settings missing for what the caller is about to do. */
export function missingBillingSettings(config: Config, needs: BillingNeed[]): string[] {
  const missing: string[] = [];
  for (const need of needs) {
    if (need === 'api') {
      if (!config.STRIPE_SECRET_KEY) missing.push('STRIPE_SECRET_KEY');
    } else if (need === 'webhook') {
      if (!config.STRIPE_WEBHOOK_SECRET) missing.push('STRIPE_WEBHOOK_SECRET');
    } else if (!stripePriceId(config, need.plan, need.interval)) {
      missing.push(priceSettingName(need.plan, need.interval));
    }
  }
  return [...new Set(missing)];
}

/** Throws a 503 DomainError naming every missing setting. */
export function assertBillingConfigured(config: Config, needs: BillingNeed[]): void {
  const missing = missingBillingSettings(config, needs);
  if (missing.length) {
    throw new DomainError(ErrorType.ServiceUnavailable, `Billing is not configured: set ${missing.join(', ')}`, { missing });
  }
}

/** price id → plan and interval, from the STRIPE_PRICE_* settings. */
export function planForPrice(config: Config, priceId: string | null | undefined): { plan: PaidPlan; interval: BillingInterval } | null {
  if (!priceId) return null;
  for (const plan of PAID_PLANS) {
    for (const interval of BILLING_INTERVALS) {
      if (stripePriceId(config, plan, interval) === priceId) return { plan, interval };
    }
  }
  return null;
}

const idOf = (v: string | { id: string } | null | undefined): string | null => (typeof v === 'string' ? v : (v?.id ?? null));
const iso = (unix: number | null | undefined): string | null => (typeof unix === 'number' ? new Date(unix * 1000).toISOString() : null);

/**
 * Stripe's subscription reduced to the state machine's snapshot. The plan comes from the
 * price id (configuration) first; a price we no longer list falls back to the
 * {plan, interval} metadata that checkout puts on the subscription.
 */
export function subscriptionSnapshot(config: Config, sub: Stripe.Subscription): StripeSubscriptionSnapshot {
  const item = sub.items?.data?.[0];
  const byPrice = planForPrice(config, item?.price?.id);
  const meta = sub.metadata ?? {};
  const metaPlan = (PAID_PLANS as readonly string[]).includes(meta.plan) ? (meta.plan as PaidPlan) : null;
  const metaInterval = (BILLING_INTERVALS as readonly string[]).includes(meta.interval) ? (meta.interval as BillingInterval) : null;
  const priceInterval = item?.price?.recurring?.interval as string | undefined;
  const legacy = sub as unknown as { current_period_start?: number; current_period_end?: number };
  const start = item?.current_period_start ?? legacy.current_period_start ?? sub.start_date;
  const end = item?.current_period_end ?? legacy.current_period_end ?? start;
  const status = (STRIPE_SUBSCRIPTION_STATUSES as readonly string[]).includes(sub.status) ? (sub.status as StripeSubscriptionStatus) : 'incomplete';
  return {
    subscriptionId: sub.id,
    customerId: idOf(sub.customer) ?? '',
    stripeStatus: status,
    plan: byPrice?.plan ?? metaPlan,
    interval: byPrice?.interval ?? metaInterval ?? (priceInterval === 'month' || priceInterval === 'year' ? priceInterval : null),
    currentPeriodStart: iso(start)!,
    currentPeriodEnd: iso(end)!,
    cancelAtPeriodEnd: Boolean(sub.cancel_at_period_end),
    trialEnd: iso(sub.trial_end),
  };
}

/** The subscription an invoice belongs to (API 2025+: parent.subscription_details). */
export function invoiceSubscriptionId(invoice: Stripe.Invoice): string | null {
  const fromParent = idOf(invoice.parent?.subscription_details?.subscription as string | { id: string } | null | undefined);
  const legacy = (invoice as unknown as { subscription?: string | { id: string } | null }).subscription;
  return fromParent ?? idOf(legacy);
}

export function isResourceMissing(err: unknown): boolean {
  const e = err as { type?: string; code?: string; statusCode?: number };
  return e?.code === 'resource_missing' || (e?.type === 'StripeInvalidRequestError' && e?.statusCode === 404);
}

/** ApplicationFailure type of a request Stripe refused for good (retrying cannot help). */
export const STRIPE_REJECTED = 'StripeRejected';

/**
 * A Stripe answer that no retry will change: a 4xx other than 409 (idempotency/lock
 * conflict) and 429 (rate limit), which are worth retrying. 5xx and network errors are not.
 */
export function isPermanentStripeError(err: unknown): boolean {
  const status = (err as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 409 && status !== 429;
}

/** Verifies a webhook's signature over the raw body; throws StripeSignatureVerificationError. */
export function verifyWebhook(rawBody: Buffer, signature: string, secret: string, toleranceSeconds = 300): Stripe.Event {
  return Stripe.webhooks.constructEvent(rawBody, signature, secret, toleranceSeconds);
}
