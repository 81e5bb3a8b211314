import { log } from '@temporalio/workflow';
import type { NotifyActivities } from '../../activities/notify';
import type { ListingNotice } from '../../activities/marketplace';
import { listingExpiredKey, listingExpiredMessage } from '../../domain/listings';
import { bestEffort } from '../shared/best-effort';

/**
 * Tells the owner a listing expired (email + in-app), keyed by listing and publication, so
 * the lifecycle workflow and the reconcile sweep never both reach the owner. Best effort.
 */
export async function sendListingExpiredNotice(
  notify: Pick<NotifyActivities, 'sendEmail' | 'notifyInApp'>,
  listingId: string,
  publication: number,
  n: ListingNotice,
): Promise<void> {
  const context = { listingId, publication };
  if (!n.ownerEmail) {
    log.warn('listing expired but its owner is gone: no notice', { ...context, ownerId: n.ownerId });
    return;
  }
  const message = listingExpiredMessage(n.ownerFirstName ?? 'there', n.title);
  const key = listingExpiredKey(listingId, publication);
  await bestEffort('listing expiry email', context, () => notify.sendEmail({ key, userId: n.ownerId, to: n.ownerEmail!, ...message }));
  await bestEffort('listing expiry in-app notice', context, () =>
    notify.notifyInApp({
      key,
      userId: n.ownerId,
      kind: 'listing.expired',
      title: message.subject,
      body: 'It no longer appears in search. Renew it to publish it again.',
      data: { listingId, publication },
    }),
  );
}
