import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Sent by the API after it renewed the listing in the database (the database is the truth). */
export interface RenewedInput {
  /** The publication the renewal belongs to (a renewal after expiry is a new publication). */
  publication: number;
  /** ISO timestamp of the new expiry. */
  expiresAt: string;
}

export type LifecycleStatus = 'active' | 'expired' | 'sold' | 'withdrawn' | 'deleted';

export interface ListingLifecycleStatus {
  listingId: string;
  status: LifecycleStatus;
  publication: number;
  expiresAt: string;
  /** When the "expiring soon" reminder is (or was) due; null when reminders are off. */
  reminderAt: string | null;
  reminderSent: boolean;
  renewals: number;
}

export const renewedSignal = defineSignal<[RenewedInput]>('renewed');
export const soldSignal = defineSignal('sold');
export const withdrawnSignal = defineSignal('withdrawn');
export const statusQuery = defineQuery<ListingLifecycleStatus>('status');
