/**
 * Plans and what they grant, defined once: the API, the workflows and the docs read
 * these values. Prices are in euro cents.
 */
export const PLANS = ['free', 'premium', 'pro'] as const;
export type Plan = (typeof PLANS)[number];
export const PAID_PLANS = ['premium', 'pro'] as const;
export type PaidPlan = (typeof PAID_PLANS)[number];
export const BILLING_INTERVALS = ['month', 'year'] as const;
export type BillingInterval = (typeof BILLING_INTERVALS)[number];

export interface PlanEntitlements {
  /** Analysis credits granted at the start of every billing period (reset, not accumulated). */
  monthlyAnalysisCredits: number;
  /** How many marketplace listings may be active at once. */
  maxActiveListings: number;
  /** How long a published listing stays active before it expires. */
  listingDurationDays: number;
  /** Price in euro cents per interval; null for free. */
  priceCents: Record<BillingInterval, number> | null;
}

export const PLAN_ENTITLEMENTS: Record<Plan, PlanEntitlements> = {
  free: { monthlyAnalysisCredits: 3, maxActiveListings: 1, listingDurationDays: 30, priceCents: null },
  premium: {
    monthlyAnalysisCredits: 30,
    maxActiveListings: 10,
    listingDurationDays: 60,
    priceCents: { month: 4900, year: 49000 },
  },
  pro: {
    monthlyAnalysisCredits: 150,
    maxActiveListings: 100,
    listingDurationDays: 120,
    priceCents: { month: 14900, year: 149000 },
  },
};

const RANK: Record<Plan, number> = { free: 0, premium: 1, pro: 2 };

export function entitlementsOf(plan: Plan): PlanEntitlements {
  return PLAN_ENTITLEMENTS[plan];
}

/** An upgrade applies at once; a downgrade waits for the period end. */
export function isUpgrade(from: Plan, to: Plan): boolean {
  return RANK[to] > RANK[from];
}

export function isPlan(value: unknown): value is Plan {
  return typeof value === 'string' && (PLANS as readonly string[]).includes(value);
}
