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

export interface ListingLifecycleInput {
  listingId: string;
  /** Publication number of the listing row this run (or this continuation) watches. */
  publication: number;
  /** ISO timestamp. */
  expiresAt: string;
  /**
   * ISO time the current expiry was set (publish, republish or renewal); a reminder that
   * would fall before it (+ REMINDER_MIN_NOTICE_MS) is skipped. Default: when the run starts.
   */
  expirySetAt?: string;
  /** Days before expiry for the "expiring soon" reminder (LISTING_REMINDER_DAYS); 0 = none. */
  reminderDays: number;
  /** Carried over continueAsNew: the reminder for this expiry was already sent. */
  reminderSent?: boolean;
  renewals?: number;
}

export interface ListingLifecycleResult {
  listingId: string;
  status: Exclude<LifecycleStatus, 'active'>;
  publication: number;
  renewals: number;
}

export const renewedSignal = defineSignal<[RenewedInput]>('renewed');
export const soldSignal = defineSignal('sold');
export const withdrawnSignal = defineSignal('withdrawn');
export const statusQuery = defineQuery<ListingLifecycleStatus>('status');

export interface MarketplaceReconcileInput {
  /** How long past expires_at an active listing is left to its own workflow (default 5). */
  graceMinutes?: number;
  /** Rows changed more recently are left to the API's own start (default 10). */
  olderThanMinutes?: number;
  /** Only rows published or renewed within this window are checked for a missing workflow (default 7). */
  withinDays?: number;
  /** Per step and run (default 100); the Schedule comes back every 15 minutes for the rest. */
  limit?: number;
}

export interface MarketplaceReconcileResult {
  expired: string[];
  checked: number;
  started: string[];
}
