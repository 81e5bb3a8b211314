import { proxyActivities } from '@temporalio/workflow';
import type { MarketplaceActivities } from '../../activities/marketplace';
import type { MarketplaceReconcileActivities } from '../../activities/marketplace/reconcile';
import { sendListingExpiredNotice } from './notices';
import { NOTIFY_ACTIVITY_OPTIONS } from '../shared/notify-policy';
import type { MarketplaceReconcileInput, MarketplaceReconcileResult } from './messages';

// The expiry sweep is idempotent (a conditional update): retried until the database answers.
const { expireOverdueListings } = proxyActivities<Pick<MarketplaceReconcileActivities, 'expireOverdueListings'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumInterval: '1 minute' },
});
const { startMissingListingWorkflows } = proxyActivities<Pick<MarketplaceReconcileActivities, 'startMissingListingWorkflows'>>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});
// Notices: NOTIFY_ACTIVITY_OPTIONS (few attempts, keyed).
const notices = proxyActivities<Pick<MarketplaceActivities, 'sendListingExpiredNotice'>>(NOTIFY_ACTIVITY_OPTIONS);

/**
 * Run by the `marketplace-reconcile` Schedule (every 15 minutes) on the marketplace queue.
 * (1) Expires `active` listings past their expiry whose workflow did not (it never started,
 * or it died): they leave search and stop holding a plan slot; the owner is told by email
 * and in-app with the lifecycle's own idempotency keys, so a workflow that expires the same
 * publication later sends nothing twice. Notices are best effort and go to the organization's
 * current members (the notice activity resolves them). (2) Starts the lifecycle
 * workflow of active, unexpired listings that have none.
 */
export async function marketplaceReconcile(input: MarketplaceReconcileInput = {}): Promise<MarketplaceReconcileResult> {
  const limit = input.limit ?? 100;
  const expired = await expireOverdueListings({ graceMinutes: input.graceMinutes ?? 5, limit });
  for (const n of expired) await sendListingExpiredNotice(notices, n.listingId, n.publication);
  const { checked, started } = await startMissingListingWorkflows({ olderThanMinutes: input.olderThanMinutes ?? 10, withinDays: input.withinDays ?? 7, limit });
  return { expired: expired.map((n) => n.listingId), checked, started };
}
