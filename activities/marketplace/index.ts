import type { MikroORM } from '../../entities/orm';
import { Listing, User } from '../../entities';
import type { ListingStatus } from '../../domain/listings';

/** What the lifecycle workflow needs to word a notice and decide whether it still applies. */
export interface ListingNotice {
  listingId: string;
  title: string;
  status: ListingStatus;
  publication: number;
  expiresAt: string | null;
  ownerId: string;
  /** null when the owner's account is gone: there is nobody to tell (the workflow skips the notice). */
  ownerEmail: string | null;
  ownerFirstName: string | null;
}

export interface ExpireListingInput {
  listingId: string;
  /** The publication the workflow's timer belongs to. */
  publication: number;
}

export type ExpireListingResult =
  /** The listing is expired for this publication (now, or by an earlier attempt of this activity). */
  | { outcome: 'expired'; notice: ListingNotice }
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
export function createMarketplaceActivities(deps: { orm: MikroORM }) {
  const { orm } = deps;

  async function notice(listingId: string): Promise<ListingNotice | null> {
    const em = orm.em.fork();
    const listing = await em.findOne(Listing, { id: listingId });
    if (!listing) return null;
    const owner = await em.findOne(User, { id: listing.ownerId });
    return {
      listingId,
      title: listing.title,
      status: listing.status,
      publication: listing.publication,
      expiresAt: listing.expiresAt ? listing.expiresAt.toISOString() : null,
      ownerId: listing.ownerId,
      ownerEmail: owner?.email ?? null,
      ownerFirstName: owner?.firstName ?? null,
    };
  }

  return {
    /** The listing as it is now, with its owner's address; null when it was deleted. */
    async getListingNotice(listingId: string): Promise<ListingNotice | null> {
      return notice(listingId);
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
      const current = await notice(input.listingId);
      if (!current) return { outcome: 'ended', status: 'deleted' };
      if (current.status === 'expired') return { outcome: 'expired', notice: current };
      if (current.status === 'active') return { outcome: 'active', publication: current.publication, expiresAt: current.expiresAt! };
      return { outcome: 'ended', status: current.status };
    },
  };
}

export type MarketplaceActivities = ReturnType<typeof createMarketplaceActivities>;
