import type { MarketplaceActivities } from '../../activities/marketplace';
import { bestEffort } from '../shared/best-effort';

/**
 * Tells the listing's organization that it expired (email + in-app), keyed by listing and
 * publication, so the lifecycle workflow and the reconcile sweep never both reach anyone.
 * Best effort. Only ids go through the workflow: the activity reads the title and resolves
 * the recipients (and their addresses) from current membership when it sends.
 */
export async function sendListingExpiredNotice(
  acts: Pick<MarketplaceActivities, 'sendListingExpiredNotice'>,
  listingId: string,
  publication: number,
): Promise<void> {
  await bestEffort('listing expiry notice', { listingId, publication }, () => acts.sendListingExpiredNotice({ listingId, publication }));
}
