import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BillingEventRef, Deadline, SubscriptionState } from '../../domain/subscription';

/** A Stripe event (or a reconcile nudge) for the user's subscription workflow. */
export const stripeEventSignal = defineSignal<[BillingEventRef]>('stripeEvent');

export interface SubscriptionLiveState extends SubscriptionState {
  /** Events received and not yet fully applied (the one in progress included). */
  pendingEvents: number;
  nextDeadline: { kind: Deadline['kind']; at: string; day?: number } | null;
  /** Events this run has applied (a new run starts at 0 after continue-as-new). */
  eventsApplied: number;
}
export const stateQuery = defineQuery<SubscriptionLiveState>('state');

export interface SubscriptionLifecycleInput {
  userId: string;
  /** Carried over by continueAsNew. */
  state?: SubscriptionState;
  /** Events received but not yet applied when the previous run continued-as-new. */
  pending?: BillingEventRef[];
  /** Recently applied event ids (duplicates are ignored), newest last. */
  seen?: string[];
  graceDays?: number;
}

export interface BillingReconcileResult {
  checked: number;
  drifted: number;
  signalled: number;
}
