import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { MarketplaceActivities } from '../../activities/marketplace';
import { daysLeft, reminderDate } from '../../domain/listings';
import { bestEffort } from '../shared/best-effort';
import { NOTIFY_ACTIVITY_OPTIONS } from '../shared/notify-policy';
import { sendListingExpiredNotice } from './notices';
import { renewedSignal, soldSignal, statusQuery, withdrawnSignal, type LifecycleStatus, type ListingLifecycleInput, type ListingLifecycleResult, type ListingLifecycleStatus, type RenewedInput } from './messages';

// Expiry must happen (an active row past its date blocks a plan slot) and is idempotent
// (a conditional update): retried without an attempt limit, e.g. through a database outage.
const { expireListing } = proxyActivities<Pick<MarketplaceActivities, 'expireListing'>>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '5 minutes' },
});
// Notices (email + in-app, worded and addressed inside the activity): NOTIFY_ACTIVITY_OPTIONS.
const notices = proxyActivities<Pick<MarketplaceActivities, 'sendListingReminder' | 'sendListingExpiredNotice'>>(NOTIFY_ACTIVITY_OPTIONS);

/**
 * One published listing: a reminder `reminderDays` before `expiresAt`, expiry at
 * `expiresAt` (the listing leaves search and the owner is told). `renewed` moves both
 * timers (also into a new publication when it arrives right after expiry); `sold` and
 * `withdrawn` end the run. The API has already written each change to the database
 * before it signals; the activities re-read the row, so a lost or late signal only
 * delays the workflow, it never expires a renewed listing.
 */
export async function listingLifecycle(input: ListingLifecycleInput): Promise<ListingLifecycleResult> {
  const { listingId, reminderDays } = input;
  let publication = input.publication;
  let expiresAt = new Date(input.expiresAt);
  let expirySetAt = input.expirySetAt ? new Date(input.expirySetAt) : new Date();
  let reminderSent = input.reminderSent ?? false;
  let renewals = input.renewals ?? 0;
  let status: LifecycleStatus = 'active';
  let pendingRenewal: RenewedInput | null = null;
  let ending: 'sold' | 'withdrawn' | null = null;

  setHandler(renewedSignal, (r) => {
    if (r.publication >= publication && (!pendingRenewal || r.publication >= pendingRenewal.publication)) pendingRenewal = r;
  });
  setHandler(soldSignal, () => {
    ending ??= 'sold';
  });
  setHandler(withdrawnSignal, () => {
    ending ??= 'withdrawn';
  });
  setHandler(
    statusQuery,
    (): ListingLifecycleStatus => ({
      listingId,
      status,
      publication,
      expiresAt: expiresAt.toISOString(),
      reminderAt: reminderDate(expiresAt, reminderDays, expirySetAt)?.toISOString() ?? null,
      reminderSent,
      renewals,
    }),
  );

  /** Moves the timers to a renewal (same publication) or a republication (next one). */
  const adopt = (next: { publication: number; expiresAt: string }) => {
    const moved = next.publication !== publication || new Date(next.expiresAt).getTime() !== expiresAt.getTime();
    if (!moved) return;
    publication = next.publication;
    expiresAt = new Date(next.expiresAt);
    expirySetAt = new Date();
    reminderSent = false;
    status = 'active';
    renewals += 1;
  };
  const interrupted = () => pendingRenewal !== null || ending !== null;
  const done = (final: ListingLifecycleResult['status']): ListingLifecycleResult => {
    status = final;
    return { listingId, status: final, publication, renewals };
  };

  for (;;) {
    if (pendingRenewal) {
      adopt(pendingRenewal);
      pendingRenewal = null;
    }
    if (ending) {
      await condition(allHandlersFinished);
      return done(ending);
    }
    if (status === 'expired') {
      await condition(allHandlersFinished);
      if (!interrupted()) return done('expired');
      continue;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof listingLifecycle>({
        listingId,
        publication,
        expiresAt: expiresAt.toISOString(),
        expirySetAt: expirySetAt.toISOString(),
        reminderDays,
        reminderSent,
        renewals,
      });
    }

    const now = Date.now();
    const remindAt = reminderDate(expiresAt, reminderDays, expirySetAt);
    if (!reminderSent && remindAt && now < expiresAt.getTime()) {
      if (now < remindAt.getTime()) {
        await condition(interrupted, remindAt.getTime() - now);
        continue;
      }
      await sendReminder();
      reminderSent = true;
      continue;
    }
    if (now < expiresAt.getTime()) {
      await condition(interrupted, expiresAt.getTime() - now);
      continue;
    }

    // expiresAt has come.
    if (interrupted()) continue;
    const result = await expireListing({ listingId, publication });
    if (result.outcome === 'active') {
      // Renewed in the database before its signal got here: re-arm from the row.
      if (new Date(result.expiresAt).getTime() <= Date.now() && result.publication === publication) {
        await condition(interrupted, '1 minute');
      }
      adopt(result);
      continue;
    }
    if (result.outcome === 'ended') return done(result.status === 'sold' || result.status === 'withdrawn' ? result.status : 'deleted');
    status = 'expired';
    await sendListingExpiredNotice(notices, listingId, publication);
  }


  /** The activity checks the row still is this publication with this expiry (a renewal may be in flight). */
  async function sendReminder() {
    const days = daysLeft(new Date(Date.now()), expiresAt);
    await bestEffort('listing reminder', { listingId, publication }, () =>
      notices.sendListingReminder({ listingId, publication, expiresAt: expiresAt.toISOString(), daysLeft: days }),
    );
  }
}
