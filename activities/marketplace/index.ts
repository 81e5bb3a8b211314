import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { MikroORM } from '../../entities/orm';
import type { Mailer } from '../../adapters/email/mailer';
import { Listing, User } from '../../entities';
import { listingExpiredKey, listingExpiredMessage, listingReminderKey, listingReminderMessage, type ListingStatus } from '../../domain/listings';
import { createNotifyActivities } from '../notify';
import { reminderRecipients } from '../notify/recipients';

/**
 * What the lifecycle workflow needs to decide whether a listing still is the publication it
 * watches: ids, status and dates only. The title and the owner's address and name are read
 * by the notice activities themselves, so they never enter a workflow history.
 */
export interface ListingState {
  listingId: string;
  status: ListingStatus;
  publication: number;
  expiresAt: string | null;
  ownerId: string;
}

/** What a notice activity did: sent to these users on these channels, or skipped (and why). */
export type ListingNoticeOutcome = { outcome: 'sent'; recipients: string[]; channels: string[] } | { outcome: 'skipped'; reason: 'gone' | 'changed' | 'no-recipient' };

export interface ExpireListingInput {
  listingId: string;
  /** The publication the workflow's timer belongs to. */
  publication: number;
}

export type ExpireListingResult =
  /** The listing is expired for this publication (now, or by an earlier attempt of this activity). */
  | { outcome: 'expired' }
  /** Still active and not due: renewed (maybe into a newer publication) before the signal reached the workflow. */
  | { outcome: 'active'; publication: number; expiresAt: string }
  /** Sold, withdrawn or deleted meanwhile: nothing to expire. */
  | { outcome: 'ended'; status: ListingStatus | 'deleted' };

/**
 * Timers may fire a moment before the database clock reaches expires_at; within this
 * tolerance the listing is expired rather than re-armed for a few milliseconds.
 */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * Listing lifecycle activities. The database row is the truth: the API changes it in the
 * request and then signals the workflow, so every activity re-reads it, and expiry is a
 * conditional update (active, same publication, expires_at passed) — running it twice,
 * or after a renewal the workflow has not heard of yet, changes nothing wrong.
 */
export function createMarketplaceActivities(deps: { orm: MikroORM; mailer: Mailer; logger: Logger }) {
  const { orm, logger } = deps;
  const notify = createNotifyActivities(deps);

  async function state(listingId: string): Promise<ListingState | null> {
    const listing = await orm.em.fork().findOne(Listing, { id: listingId });
    if (!listing) return null;
    return {
      listingId,
      status: listing.status,
      publication: listing.publication,
      expiresAt: listing.expiresAt ? listing.expiresAt.toISOString() : null,
      ownerId: listing.ownerId,
    };
  }

  /**
   * In-app then email to each recipient, resolved now from the listing's organization: the
   * owner while still a member, else the organization's owners (a member who left must not
   * keep hearing about its listings). The owner keeps the plain key (the workflow and the
   * reconcile share it); a fallback owner gets `<key>:to:<userId>`. A refused address is
   * logged and skipped; a transient failure is thrown after the other channels went out
   * (the retry re-sends nothing that was keyed already).
   */
  async function deliver(listing: Listing, key: string, kind: string, body: string, data: Record<string, unknown>, wording: (firstName: string) => { subject: string; text: string }): Promise<ListingNoticeOutcome> {
    const em = orm.em.fork();
    const recipients = await reminderRecipients(em, listing.organization.id, listing.ownerId);
    const users = recipients.length ? await em.find(User, { id: { $in: recipients } }) : [];
    if (!users.length) {
      logger.warn({ listingId: listing.id, key }, 'listing notice: nobody to tell (owner gone, organization without owners)');
      return { outcome: 'skipped', reason: 'no-recipient' };
    }
    const channels = new Set<string>();
    let transient: unknown = null;
    for (const user of users) {
      const k = user.id === listing.ownerId ? key : `${key}:to:${user.id}`;
      const message = wording(user.firstName);
      try {
        await notify.notifyInApp({ key: k, userId: user.id, kind, title: message.subject, body, data });
        channels.add('in_app');
      } catch (err) {
        transient ??= err;
      }
      try {
        await notify.sendEmail({ key: k, userId: user.id, to: user.email, ...message });
        channels.add('email');
      } catch (err) {
        if (err instanceof ApplicationFailure && err.nonRetryable) logger.warn({ listingId: listing.id, key: k, err: err.message }, 'listing notice email refused for good');
        else transient ??= err;
      }
    }
    if (transient) throw transient;
    return { outcome: 'sent', recipients: users.map((u) => u.id), channels: [...channels].sort() };
  }

  return {
    /** The listing as it is now (ids, status, dates); null when it was deleted. */
    async getListingState(listingId: string): Promise<ListingState | null> {
      return state(listingId);
    },

    /**
     * The "expires soon" reminder, only while the row still is this publication with this
     * expiry (a renewal may be in flight). Worded here from the row: the title and the
     * recipients' names and addresses stay out of the workflow history.
     */
    async sendListingReminder(input: { listingId: string; publication: number; expiresAt: string; daysLeft: number }): Promise<ListingNoticeOutcome> {
      const listing = await orm.em.fork().findOne(Listing, { id: input.listingId });
      if (!listing) return { outcome: 'skipped', reason: 'gone' };
      if (listing.status !== 'active' || listing.publication !== input.publication || listing.expiresAt?.toISOString() !== input.expiresAt) return { outcome: 'skipped', reason: 'changed' };
      const expiresAt = new Date(input.expiresAt);
      return deliver(
        listing,
        listingReminderKey(listing.id, input.publication, expiresAt),
        'listing.expiring',
        'Renew it in one click to keep it in search.',
        { listingId: listing.id, publication: input.publication, expiresAt: input.expiresAt },
        (firstName) => listingReminderMessage(firstName, listing.title, expiresAt, input.daysLeft),
      );
    },

    /**
     * Tells the organization a listing expired (email + in-app), keyed by listing and
     * publication, so the lifecycle workflow and the reconcile sweep never both reach anyone.
     * Nothing is sent once the row moved on (renewed into a new publication, deleted).
     */
    async sendListingExpiredNotice(input: { listingId: string; publication: number }): Promise<ListingNoticeOutcome> {
      const listing = await orm.em.fork().findOne(Listing, { id: input.listingId });
      if (!listing) return { outcome: 'skipped', reason: 'gone' };
      if (listing.status !== 'expired' || listing.publication !== input.publication) return { outcome: 'skipped', reason: 'changed' };
      return deliver(
        listing,
        listingExpiredKey(listing.id, input.publication),
        'listing.expired',
        'It no longer appears in search. Renew it to publish it again.',
        { listingId: listing.id, publication: input.publication },
        (firstName) => listingExpiredMessage(firstName, listing.title),
      );
    },

    /** Moves active → expired when expires_at has passed for the same publication; idempotent. */
    async expireListing(input: ExpireListingInput): Promise<ExpireListingResult> {
      const em = orm.em.fork();
      await em.getConnection().execute(
        `update listings set status = 'expired', updated_at = now()
          where id = ? and status = 'active' and publication = ? and expires_at <= now() + make_interval(secs => ?)`,
        [input.listingId, input.publication, CLOCK_TOLERANCE_SECONDS],
        'run',
      );
      const current = await state(input.listingId);
      if (!current) return { outcome: 'ended', status: 'deleted' };
      if (current.status === 'expired') return { outcome: 'expired' };
      if (current.status === 'active') return { outcome: 'active', publication: current.publication, expiresAt: current.expiresAt! };
      return { outcome: 'ended', status: current.status };
    },
  };
}

export type MarketplaceActivities = ReturnType<typeof createMarketplaceActivities>;
