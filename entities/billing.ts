import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';
import { BILLING_INTERVALS, PLANS } from '../domain/plans';
import { SUBSCRIPTION_STATUSES } from '../domain/subscription';

/**
 * A user's subscription as the subscriptionLifecycle workflow last applied it (Stripe is the
 * truth; this row is what the API and the nightly reconcile read). One row per user.
 */
export const Subscription = defineEntity({
  name: 'Subscription',
  tableName: 'subscriptions',
  properties: {
    ...baseProperties,
    userId: p.uuid().unique(),
    stripeCustomerId: p.string().nullable().index(),
    stripeSubscriptionId: p.string().nullable().unique(),
    plan: p.enum(PLANS).default('free'),
    interval: p.enum(BILLING_INTERVALS).nullable(),
    status: p.enum(SUBSCRIPTION_STATUSES).default('none'),
    currentPeriodStart: p.datetime().nullable(),
    currentPeriodEnd: p.datetime().nullable(),
    cancelAtPeriodEnd: p.boolean().default(false),
    /** Plan that takes over at the period end (downgrade, or free after a cancellation). */
    pendingPlan: p.enum(PLANS).nullable(),
    pastDueSince: p.datetime().nullable(),
    trialEnd: p.datetime().nullable(),
    /** The plan and interval of the last checkout started (shown while Stripe confirms). */
    checkoutPlan: p.enum(PLANS).nullable(),
    checkoutInterval: p.enum(BILLING_INTERVALS).nullable(),
    checkoutSessionId: p.string().nullable(),
    /** When the workflow last wrote this row. */
    syncedAt: p.datetime().nullable(),
  },
});
export type Subscription = InferEntity<typeof Subscription>;

/**
 * Every Stripe event id we accepted, so a redelivery is a no-op. `signalledAt` stays null
 * until the workflow got the signal: a delivery that failed to signal is retried by Stripe.
 */
export const StripeEvent = defineEntity({
  name: 'StripeEvent',
  tableName: 'stripe_events',
  properties: {
    ...baseProperties,
    eventId: p.string().unique(),
    type: p.string(),
    objectId: p.string().nullable(),
    userId: p.uuid().nullable().index(),
    receivedAt: p.datetime(),
    signalledAt: p.datetime().nullable(),
  },
});
export type StripeEvent = InferEntity<typeof StripeEvent>;
