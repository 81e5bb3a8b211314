import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BillingEventRef, Deadline, SubscriptionState } from '../../domain/subscription';

/** A Stripe event (or a reconcile nudge) for the user's subscription workflow. */
export const stripeEventSignal = defineSignal<[BillingEventRef]>('stripeEvent');

export interface SubscriptionLiveState extends SubscriptionState {
  /** Events received and not yet applied. */
  pendingEvents: number;
  nextDeadline: { kind: Deadline['kind']; at: string; day?: number } | null;
  /** Billing periods this run has seen begin (the run continues-as-new after one). */
  eventsApplied: number;
}
export const stateQuery = defineQuery<SubscriptionLiveState>('state');
