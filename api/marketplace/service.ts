import type { z } from 'zod';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Horse, Listing, ListingFavorite, Organization, User, liveListingSql } from '../../entities';
import type { AppDeps } from '../deps';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { targetOrganization } from '../organizations/access';
import { findPage, inMyOrganizations, loadOwned, type PageQuery } from '../organizations/scope';
import {
  assertActiveLimit,
  assertCanApply,
  effectiveStatus,
  isLive,
  needsActiveSlot,
  publicationDates,
  renewalDates,
  statusAfter,
  type ListingStatus,
} from '../../domain/listings';
import { queryListingStatus, renewListingLifecycle, signalListingEnded, startListingLifecycle, type LifecycleListing } from '../../workflows/marketplace/client';
import type { CreateListingBody, SearchListingsQuery, UpdateListingBody } from './schemas';
import { buildSearchSql, nextCursor, type SearchRow } from './search';
import { healthSummaryOf } from '../health/service';
import type { HealthSummary } from '../../domain/health';

/**
 * The marketplace's application layer: transactions, state transitions (through the pure
 * rules of domain/listings.ts) and the listing workflow. The router only maps HTTP to these
 * calls and the results to views.
 *
 * Every state change is committed to the database first (the database is the truth), then
 * told to the `listing-<id>` workflow; Temporal trouble after the commit answers 503 and
 * repeating the request is safe.
 */
export type MarketplaceService = ReturnType<typeof createMarketplaceService>;
export type EndAction = 'sold' | 'withdraw';

export function createMarketplaceService(deps: Pick<AppDeps, 'config' | 'temporal' | 'logger'>) {
  const { config, temporal, logger } = deps;

  // ------------------------------------------------------------ loading

  /** A listing of one of the caller's organizations (locked when asked) with its horse, else 404. */
  async function loadOwnedListing(em: EntityManager, user: AuthUser, id: string, lock = false): Promise<Listing> {
    const listing = await loadOwned(em, Listing, user, id, { what: 'Listing', lock });
    await em.populate(listing, ['horse']);
    return listing;
  }

  /** The horse must be ours and of the listing's organization; undefined = not asked, null = unlink. */
  async function linkHorse(em: EntityManager, organizationId: string, horseId: string | null | undefined): Promise<Horse | null | undefined> {
    if (horseId === undefined) return undefined;
    if (horseId === null) return null;
    const horse = await em.findOne(Horse, { id: horseId, organization: organizationId });
    if (!horse) {
      throw new HttpError(422, 'Invalid body.horseId: must be a horse of the listing organization', [
        { location: 'body', field: 'horseId', message: 'must be a horse of the listing organization' },
      ]);
    }
    return horse;
  }

  /** The breed in the search document: the linked horse's (null when that horse has none). */
  function syncBreed(listing: Listing) {
    const horse = listing.horse as Horse | null | undefined;
    if (horse) listing.breed = horse.breed ?? null;
  }

  /** A linked horse sets the breed: sending one as well would be silently ignored, so it is refused. */
  function assertNoBreedWithHorse(breed: unknown, horseLinked: boolean) {
    if (breed === undefined || !horseLinked) return;
    const message = 'breed comes from the linked horse: change it on the horse, or unlink the horse (horseId: null)';
    throw new HttpError(422, `Invalid body.breed: ${message}`, [{ location: 'body', field: 'breed', message }]);
  }

  /**
   * Locks the owner's user row (serialises concurrent publishes of one owner), counts
   * their live listings and applies their plan's limit → 402 with plan, limit, active.
   * An `active` row past its expiry is out of search and awaits the workflow (or the
   * marketplace-reconcile sweep): it no longer takes a slot.
   */
  async function checkActiveSlot(tx: EntityManager, listing: Listing) {
    const owner = await tx.findOne(User, { id: listing.ownerId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!owner) throw new HttpError(409, 'The owner of this listing no longer exists');
    const [{ n: active }] = await tx
      .getConnection()
      .execute<{ n: number }[]>(
        `select count(*)::int as n from listings where owner_id = ? and ${liveListingSql()} and id <> ?`,
        [listing.ownerId, listing.id],
        'all',
        tx.getTransactionContext(),
      );
    assertActiveLimit(owner.plan, active);
    return owner;
  }

  // ------------------------------------------------------------ the workflow

  function lifecycleListing(listing: Listing): LifecycleListing {
    return { id: listing.id, ownerId: listing.ownerId, horseId: listing.horse?.id ?? null, publication: listing.publication, expiresAt: listing.expiresAt! };
  }

  /** Temporal trouble after the database commit: the change stands, repeating the call is safe. */
  async function withTemporal<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof HttpError) throw err;
      logger.error({ err }, `marketplace: ${what} failed`);
      throw new HttpError(503, `The listing was saved but its expiry workflow could not be ${what} right now; repeat the request, it is safe to`);
    }
  }

  /** Starts the lifecycle for a (re)published listing, or finds the running one. */
  async function startLifecycle(listing: Listing) {
    await withTemporal('started', async () => {
      const client = await temporal.client();
      await startListingLifecycle(client, lifecycleListing(listing), { reminderDays: config.LISTING_REMINDER_DAYS, expirySetAt: listing.publishedAt ?? null });
    });
  }

  /**
   * Renewal: signalWithStart. A running run moves its timers (or, if it is just finishing
   * an expiry, continues into the new publication); when the run has ended (renewal after
   * expiry), a new run with the same id starts for the new publication.
   */
  async function signalRenewal(listing: Listing, renewedAt: Date) {
    await withTemporal('renewed', async () => {
      const client = await temporal.client();
      await renewListingLifecycle(client, lifecycleListing(listing), { reminderDays: config.LISTING_REMINDER_DAYS, renewedAt });
    });
  }

  /** Sold / withdrawn: best effort. Without the signal the run finds the row final at its next step and ends. */
  async function signalEnd(listing: Listing, action: EndAction) {
    try {
      const client = await temporal.client();
      await signalListingEnded(client, listing.id, action);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return; // the run had already ended (expired listing)
      logger.warn({ err, listingId: listing.id }, `marketplace: could not signal ${action}; the workflow will see it in the database`);
    }
  }

  return {
    // ---------------------------------------------------------- public

    /** One page of live listings and the cursor of the next. */
    async search(em: EntityManager, query: SearchListingsQuery): Promise<{ rows: SearchRow[]; nextCursor: string | null }> {
      const { sql, params, sort } = buildSearchSql(query, new Date(), { relevanceCandidates: config.SEARCH_RELEVANCE_CANDIDATES });
      const rows = (await em.getConnection().execute(sql, params)) as SearchRow[];
      return { rows: rows.slice(0, query.limit), nextCursor: nextCursor(rows, query.limit, sort) };
    },

    /** A live listing, counting the view; 404 for any other (draft, ended, expired, unknown). */
    async viewListing(em: EntityManager, id: string): Promise<Listing> {
      const updated = await em.getConnection().execute(`update listings set views = views + 1 where id = ? and ${liveListingSql()} returning id`, [id]);
      if (!updated.length) throw new HttpError(404, `Listing ${id} not found`);
      return em.findOneOrFail(Listing, { id }, { populate: ['horse'] });
    },

    /**
     * The linked horse's health summary when the seller shares it on this listing, else null.
     * Computed here, for one listing's page only: search results never carry it (no per-row
     * read of health records in the search query).
     */
    async sharedHealth(em: EntityManager, listing: Listing): Promise<HealthSummary | null> {
      const horse = listing.horse as Horse | null | undefined;
      if (!listing.shareHealthSummary || !horse) return null;
      return healthSummaryOf(em, horse);
    },

    // ---------------------------------------------------------- favorites

    /** Idempotent: a second save changes nothing. Only a live listing can be saved. */
    async favorite(em: EntityManager, user: AuthUser, listingId: string): Promise<{ favoritesCount: number }> {
      return em.transactional(async (tx) => {
        const conn = tx.getConnection();
        const ctx = tx.getTransactionContext();
        const listing = await conn.execute(`select id from listings where id = ? and ${liveListingSql()} for update`, [listingId], 'all', ctx);
        if (!listing.length) throw new HttpError(404, `Listing ${listingId} not found`);
        const inserted = await conn.execute(
          `insert into listing_favorites (id, created_at, updated_at, user_id, listing_id) values (gen_random_uuid(), now(), now(), ?, ?)
           on conflict (user_id, listing_id) do nothing returning id`,
          [user.id, listingId],
          'all',
          ctx,
        );
        const [row] = await conn.execute(`update listings set favorites_count = favorites_count + ? where id = ? returning favorites_count`, [inserted.length, listingId], 'all', ctx);
        return { favoritesCount: row.favorites_count as number };
      });
    },

    /** Idempotent: removing a favorite that is not there changes nothing. */
    async unfavorite(em: EntityManager, user: AuthUser, listingId: string): Promise<void> {
      await em.transactional(async (tx) => {
        const conn = tx.getConnection();
        const deleted = await conn.execute(`delete from listing_favorites where user_id = ? and listing_id = ? returning id`, [user.id, listingId], 'all', tx.getTransactionContext());
        if (deleted.length) {
          await conn.execute(`update listings set favorites_count = greatest(favorites_count - 1, 0) where id = ?`, [listingId], 'run', tx.getTransactionContext());
        }
      });
    },

    /** The caller's favorites, newest saved first, each with whether it is still live. */
    async favorites(em: EntityManager, user: AuthUser, query: PageQuery) {
      const now = new Date();
      const page = await findPage(em, ListingFavorite, { userId: user.id, listing: { status: { $ne: 'draft' } } }, query, {
        populate: ['listing', 'listing.horse'],
        orderBy: { createdAt: 'desc', id: 'desc' },
      });
      return { ...page, items: page.items.map((f) => ({ listing: f.listing as Listing, live: isLive(f.listing, now) })) };
    },

    // ---------------------------------------------------------- owners

    async create(em: EntityManager, user: AuthUser, body: z.output<typeof CreateListingBody>): Promise<Listing> {
      const { organizationId: requested, horseId, ...fields } = body;
      const organizationId = targetOrganization(user, requested);
      assertNoBreedWithHorse(fields.breed, !!horseId);
      const horse = await linkHorse(em, organizationId, horseId);
      const listing = em.create(Listing, {
        ...fields,
        negotiable: fields.negotiable ?? false,
        shareHealthSummary: fields.shareHealthSummary ?? false,
        images: fields.images ?? [],
        videos: fields.videos ?? [],
        horse: horse ?? null,
        organization: em.getReference(Organization, organizationId),
        ownerId: user.id,
        status: 'draft',
      });
      syncBreed(listing);
      await em.flush();
      return listing;
    },

    mine(em: EntityManager, user: AuthUser, query: PageQuery & { status?: ListingStatus }) {
      return findPage(em, Listing, { ...inMyOrganizations(user), ...(query.status ? { status: query.status } : {}) }, query, {
        populate: ['horse'],
        orderBy: { createdAt: 'desc', id: 'desc' },
      });
    },

    getMine(em: EntityManager, user: AuthUser, id: string): Promise<Listing> {
      return loadOwnedListing(em, user, id);
    },

    async update(em: EntityManager, user: AuthUser, id: string, body: z.output<typeof UpdateListingBody>): Promise<Listing> {
      return em.transactional(async (tx) => {
        const listing = await loadOwnedListing(tx, user, id, true);
        assertCanApply(listing.status, 'edit');
        const { horseId, ...fields } = body;
        const linkedAfter = horseId === undefined ? !!listing.horse : horseId !== null;
        assertNoBreedWithHorse(fields.breed, linkedAfter);
        const unlinking = horseId === null && !!listing.horse;
        const horse = await linkHorse(tx, listing.organization.id, horseId);
        tx.assign(listing, fields);
        if (horse !== undefined) listing.horse = horse;
        // Unlinking: the horse's breed does not stay behind; an explicit breed in the same request is kept.
        if (unlinking && fields.breed === undefined) listing.breed = null;
        syncBreed(listing);
        await tx.flush();
        return listing;
      });
    },

    /** Only a draft can be deleted. */
    async deleteDraft(em: EntityManager, user: AuthUser, id: string): Promise<void> {
      await em.transactional(async (tx) => {
        const listing = await loadOwnedListing(tx, user, id, true);
        assertCanApply(listing.status, 'delete');
        tx.remove(listing);
        await tx.flush();
      });
    },

    /** Draft → active within the plan's limit, then the lifecycle workflow. A repeated publish changes nothing and makes sure the workflow runs. */
    async publish(em: EntityManager, user: AuthUser, id: string): Promise<Listing> {
      const listing = await em.transactional(async (tx) => {
        const l = await loadOwnedListing(tx, user, id, true);
        if (l.status === 'active') return l;
        assertCanApply(l.status, 'publish');
        const owner = await checkActiveSlot(tx, l);
        const dates = publicationDates(new Date(), owner.plan);
        l.status = statusAfter(l.status, 'publish');
        l.publishedAt = dates.publishedAt;
        l.expiresAt = dates.expiresAt;
        l.publication += 1;
        syncBreed(l);
        await tx.flush();
        return l;
      });
      await startLifecycle(listing);
      return listing;
    },

    /**
     * The expiry moves to now + the plan's duration; an expired listing (or an `active` one
     * past its expiry whose workflow has not caught up) is republished and takes a slot.
     */
    async renew(em: EntityManager, user: AuthUser, id: string): Promise<Listing> {
      const renewedAt = new Date();
      const listing = await em.transactional(async (tx) => {
        const l = await loadOwnedListing(tx, user, id, true);
        assertCanApply(l.status, 'renew');
        const status = effectiveStatus(l, renewedAt);
        const owner = needsActiveSlot(status, 'renew') ? await checkActiveSlot(tx, l) : await tx.findOneOrFail(User, { id: l.ownerId });
        const dates = renewalDates({ status, publishedAt: l.publishedAt ?? null, expiresAt: l.expiresAt ?? null }, renewedAt, owner.plan);
        if (dates.republished) l.publication += 1;
        l.status = statusAfter(status, 'renew');
        l.publishedAt = dates.publishedAt;
        l.expiresAt = dates.expiresAt;
        syncBreed(l);
        await tx.flush();
        return l;
      });
      await signalRenewal(listing, renewedAt);
      return listing;
    },

    /** Sold or withdrawn (final); a listing that was active tells its workflow. */
    async end(em: EntityManager, user: AuthUser, id: string, action: EndAction): Promise<Listing> {
      const { listing, wasActive } = await em.transactional(async (tx) => {
        const l = await loadOwnedListing(tx, user, id, true);
        const wasActive = l.status === 'active';
        l.status = statusAfter(l.status, action);
        await tx.flush();
        return { listing: l, wasActive };
      });
      if (wasActive) await signalEnd(listing, action);
      return listing;
    },

    /** The workflow's own status of one of the caller's listings. */
    async lifecycle(em: EntityManager, user: AuthUser, id: string) {
      await loadOwnedListing(em, user, id);
      const client = await temporal.client();
      return queryListingStatus(client, id);
    },
  };
}
