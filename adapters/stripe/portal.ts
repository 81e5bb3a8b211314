import { createHash } from 'node:crypto';
import type Stripe from 'stripe';
import { stripePriceId, type Config } from '../../config';
import { BILLING_INTERVALS, PAID_PLANS } from '../../domain/plans';

/** Metadata key that marks the portal configuration this code manages (value: fingerprint of its settings). */
export const PORTAL_CONFIGURATION_METADATA_KEY = 'horse_tempo_portal';

/**
 * What the customer portal may do, for the products behind our configured prices:
 * - plan changes are invoiced at once with proration (`always_invoice`): an upgrade is paid
 *   when it is made, so its extra credits are not free;
 * - downgrades (a smaller amount, or a shorter interval) are scheduled at the period end,
 *   so nobody pays for a big plan, spends it, and switches down for a refund;
 * - cancellation at the period end; payment methods and invoices.
 */
export function portalConfigurationParams(config: Config, products: { product: string; prices: string[] }[]): Stripe.BillingPortal.ConfigurationCreateParams {
  return {
    business_profile: { headline: 'Horse Tempo: manage your plan' },
    default_return_url: config.BILLING_PORTAL_RETURN_URL,
    features: {
      subscription_update: {
        enabled: products.length > 0,
        default_allowed_updates: products.length > 0 ? ['price'] : [],
        ...(products.length > 0 ? { products } : {}),
        proration_behavior: 'always_invoice',
        schedule_at_period_end: { conditions: [{ type: 'decreasing_item_amount' }, { type: 'shortening_interval' }] },
      },
      subscription_cancel: { enabled: true, mode: 'at_period_end', proration_behavior: 'none' },
      payment_method_update: { enabled: true },
      invoice_history: { enabled: true },
    },
  };
}

/** Our configured price ids grouped by their Stripe product (the portal lists products). */
async function sellableProducts(api: Stripe, config: Config): Promise<{ product: string; prices: string[] }[]> {
  const byProduct = new Map<string, string[]>();
  for (const plan of PAID_PLANS) {
    for (const interval of BILLING_INTERVALS) {
      const priceId = stripePriceId(config, plan, interval);
      if (!priceId) continue;
      const price = await api.prices.retrieve(priceId);
      const product = typeof price.product === 'string' ? price.product : price.product.id;
      byProduct.set(product, [...(byProduct.get(product) ?? []), priceId]);
    }
  }
  return [...byProduct].map(([product, prices]) => ({ product, prices }));
}

/**
 * The id of the portal configuration sessions must use. `STRIPE_PORTAL_CONFIGURATION` wins
 * when set (managed in the Stripe dashboard). Otherwise the configuration is ours: an active
 * one carrying the fingerprint of the wanted settings is reused, else one is created (so a
 * restart or a second API instance does not pile up configurations, and a changed price list
 * gets a new one).
 */
export async function ensurePortalConfiguration(api: Stripe, config: Config): Promise<string> {
  if (config.STRIPE_PORTAL_CONFIGURATION) return config.STRIPE_PORTAL_CONFIGURATION;
  const params = portalConfigurationParams(config, await sellableProducts(api, config));
  const fingerprint = createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 24);
  for await (const existing of api.billingPortal.configurations.list({ active: true, limit: 100 })) {
    if (existing.metadata?.[PORTAL_CONFIGURATION_METADATA_KEY] === fingerprint) return existing.id;
  }
  const created = await api.billingPortal.configurations.create(
    { ...params, metadata: { [PORTAL_CONFIGURATION_METADATA_KEY]: fingerprint } },
    { idempotencyKey: `portal-configuration:${fingerprint}` },
  );
  return created.id;
}
