import { Router } from 'express';
import { z } from 'zod';
import { LockMode, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Horse, Listing, ListingFavorite, Organization, User } from '../../entities';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import type { AuthUser } from '../accounts/types';
import { routeBuilder, IdParams, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { memberOrgIds, targetOrganization } from '../organizations/access';
import { toDateString } from '../horses/access';
import { ageInYears, assertActiveLimit, assertCanApply, needsActiveSlot, publicationDates, renewalDates, statusAfter, type ListingAction } from '../../domain/listings';
import { queryListingStatus, renewListingLifecycle, signalListingEnded, startListingLifecycle, type LifecycleListing } from '../../workflows/marketplace/client';
import {
  CreateListingBody,
  FavoriteListingView,
  FavoriteView,
  LifecycleView,
  MyListingsQuery,
  OwnerListingView,
  PublicListingView,
  SearchListingsQuery,
  SearchResponse,
  UpdateListingBody,
} from './schemas';
import { buildSearchSql, nextCursor, type SearchRow } from './search';

/**
 * The marketplace, mounted at /api/marketplace.
 *
 * Public (no auth): GET /listings (search), GET /listings/:id (counts a view).
 * Signed in: POST/DELETE /listings/:id/favorite, GET /favorites.
 * Owners, under /my/listings (members of the listing's organization; another
 * organization's listing answers 404): create (draft), list, get, PATCH, DELETE (drafts),
 * POST /:id/publish | /renew | /sold | /withdraw, GET /:id/lifecycle (the workflow's status).
 *
 * Every state change is written to the database in the request first (the database is
 * the truth), then told to the `listing-<id>` workflow.
 */
export function createMarketplaceRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/marketplace', tag: 'marketplace', authenticate: ctx.authenticate });
  const { config, temporal, logger } = deps;

  // ---------------------------------------------------------------- views

  function horseSummary(h: { id: string; name: string; breed?: string | null; birthDate?: unknown; gender: string } | null | undefined) {
    if (!h) return null;
    const birthDate = toDateString(h.birthDate);
    return { id: h.id, name: h.name, breed: h.breed ?? null, birthDate, ageYears: birthDate ? ageInYears(birthDate, new Date()) : null, gender: h.gender };
  }

  function publicView(l: Listing) {
    return {
      id: l.id,
      type: l.type,
      status: l.status,
      title: l.title,
      description: l.description,
      breed: l.breed ?? null,
      priceCents: l.priceCents,
      currency: l.currency,
      negotiable: l.negotiable,
      images: l.images ?? [],
      videos: l.videos ?? [],
      city: l.city ?? null,
      country: l.country ?? null,
      latitude: l.latitude ?? null,
      longitude: l.longitude ?? null,
      contactEmail: l.contactEmail ?? null,
      contactPhone: l.contactPhone ?? null,
      views: l.views,
      favoritesCount: l.favoritesCount,
      publishedAt: l.publishedAt ?? null,
      expiresAt: l.expiresAt ?? null,
      horse: l.horse && (l.horse as unknown as { name?: string }).name !== undefined ? horseSummary(l.horse as never) : null,
    };
  }

  /** A favorite that is no longer live (sold, withdrawn, expired): no contact details, no description. */
  function endedFavoriteView(l: Listing) {
    return { id: l.id, title: l.title, status: l.status === 'active' ? ('expired' as const) : l.status };
  }

  function ownerView(l: Listing) {
    return {
      ...publicView(l),
      organizationId: l.organization.id,
      ownerId: l.ownerId,
      horseId: l.horse?.id ?? null,
      publication: l.publication,
      createdAt: l.createdAt,
      updatedAt: l.updatedAt,
    };
  }

  function rowView(row: SearchRow) {
    return {
      id: row.id,
      type: row.type,
      status: row.status,
      title: row.title,
      description: row.description,
      breed: row.breed,
      priceCents: Number(row.price_cents),
      currency: row.currency,
      negotiable: row.negotiable,
      images: row.images ?? [],
      videos: row.videos ?? [],
      city: row.city,
      country: row.country,
      latitude: row.latitude,
      longitude: row.longitude,
      contactEmail: row.contact_email,
      contactPhone: row.contact_phone,
      views: row.views,
      favoritesCount: row.favorites_count,
      publishedAt: new Date(row.published_at),
      expiresAt: new Date(row.expires_at),
      horse: row.horse_id
        ? horseSummary({ id: row.horse_id, name: row.horse_name!, breed: row.horse_breed, birthDate: row.horse_birth_date, gender: row.horse_gender! })
        : null,
      rank: row.rank === null ? null : Number(row.rank),
    };
  }

  // ---------------------------------------------------------------- helpers

  /** A listing of one of the caller's organizations (locked when asked), else 404. */
  async function loadOwnedListing(em: EntityManager, user: AuthUser, id: string, lock = false): Promise<Listing> {
    const listing = await em.findOne(Listing, { id, organization: { $in: memberOrgIds(user) } }, lock ? { lockMode: LockMode.PESSIMISTIC_WRITE } : {});
    if (!listing) throw new HttpError(404, `Listing ${id} not found`);
    await em.populate(listing, ['horse']);
    return listing;
  }

  /** The horse must be ours and of the listing's organization. */
  async function linkHorse(em: EntityManager, organizationId: string, horseId: string | null | undefined): Promise<Horse | null | undefined> {
    if (horseId === undefined) return undefined;
    if (horseId === null) return null;
    const horse = await em.findOne(Horse, { id: horseId, organization: organizationId });
    if (!horse) {
      throw new HttpError(400, 'Invalid body.horseId: must be a horse of the listing organization', [
        { location: 'body', field: 'horseId', message: 'must be a horse of the listing organization' },
      ]);
    }
    return horse;
  }

  /** The breed in the search document: the linked horse's (null when that horse has none). */
  function syncBreed(listing: Listing) {
    const horse = listing.horse as unknown as Horse | null | undefined;
    if (horse) listing.breed = horse.breed ?? null;
  }

  /** A linked horse sets the breed: sending one as well would be silently ignored, so it is refused. */
  function assertNoBreedWithHorse(breed: unknown, horseLinked: boolean) {
    if (breed === undefined || !horseLinked) return;
    const message = 'breed comes from the linked horse: change it on the horse, or unlink the horse (horseId: null)';
    throw new HttpError(400, `Invalid body.breed: ${message}`, [{ location: 'body', field: 'breed', message }]);
  }

  /**
   * Locks the owner's user row (serialises concurrent publishes of one owner), counts
   * their active listings and applies their plan's limit → 402 with plan, limit, active.
   */
  async function checkActiveSlot(tx: EntityManager, listing: Listing) {
    const owner = await tx.findOne(User, { id: listing.ownerId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!owner) throw new HttpError(409, 'The owner of this listing no longer exists');
    // An `active` row past its expiry is out of search and awaits the workflow (or the
    // marketplace-reconcile sweep): it no longer takes a slot.
    const [{ n: active }] = await tx
      .getConnection()
      .execute<{ n: number }[]>(
        `select count(*)::int as n from listings where owner_id = ? and status = 'active' and expires_at > now() and id <> ?`,
        [listing.ownerId, listing.id],
        'all',
        tx.getTransactionContext(),
      );
    assertActiveLimit(owner.plan, active);
    return owner;
  }

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
  async function signalEnd(listing: Listing, action: 'sold' | 'withdraw') {
    try {
      const client = await temporal.client();
      await signalListingEnded(client, listing.id, action);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return; // the run had already ended (expired listing)
      logger.warn({ err, listingId: listing.id }, `marketplace: could not signal ${action}; the workflow will see it in the database`);
    }
  }

  // ---------------------------------------------------------------- public

  r.get(
    '/listings',
    {
      summary: 'Search active listings',
      description:
        'Full-text search (English and French) over title, breed and description, with filters, sort (newest, price, -price, relevance) and cursor pagination. ' +
        'Prices are minor units (cents) of the listing currency; pass currency to compare like with like. Age filters use the linked horse.',
      auth: false,
      query: SearchListingsQuery,
      response: SearchResponse,
    },
    async ({ query, em }) => {
      const { sql, params, sort } = buildSearchSql(query, new Date(), { relevanceCandidates: deps.config.SEARCH_RELEVANCE_CANDIDATES });
      const rows = (await em.getConnection().execute(sql, params)) as SearchRow[];
      return { items: rows.slice(0, query.limit).map(rowView), nextCursor: nextCursor(rows, query.limit, sort) };
    },
  );

  r.get(
    '/listings/:id',
    { summary: 'One active listing (counts a view)', auth: false, params: IdParams, response: PublicListingView, errors: [404] },
    async ({ params, em }) => {
      const updated = await em
        .getConnection()
        .execute(`update listings set views = views + 1 where id = ? and status = 'active' and expires_at > now() returning id`, [params.id]);
      if (!updated.length) throw new HttpError(404, `Listing ${params.id} not found`);
      const listing = await em.findOneOrFail(Listing, { id: params.id }, { populate: ['horse'] });
      return publicView(listing);
    },
  );

  // ---------------------------------------------------------------- favorites

  r.post(
    '/listings/:id/favorite',
    { summary: 'Save an active listing to my favorites (idempotent)', params: IdParams, response: FavoriteView, errors: [404] },
    async ({ params, em, user }) => {
      return em.transactional(async (tx) => {
        const conn = tx.getConnection();
        const listing = await conn.execute(`select id from listings where id = ? and status = 'active' and expires_at > now() for update`, [params.id], 'all', tx.getTransactionContext());
        if (!listing.length) throw new HttpError(404, `Listing ${params.id} not found`);
        const inserted = await conn.execute(
          `insert into listing_favorites (id, created_at, updated_at, user_id, listing_id) values (gen_random_uuid(), now(), now(), ?, ?)
           on conflict (user_id, listing_id) do nothing returning id`,
          [user.id, params.id],
          'all',
          tx.getTransactionContext(),
        );
        const [row] = await conn.execute(
          `update listings set favorites_count = favorites_count + ? where id = ? returning favorites_count`,
          [inserted.length, params.id],
          'all',
          tx.getTransactionContext(),
        );
        return { listingId: params.id, favorited: true, favoritesCount: row.favorites_count };
      });
    },
  );

  r.delete(
    '/listings/:id/favorite',
    { summary: 'Remove a listing from my favorites (idempotent)', params: IdParams, status: 204 },
    async ({ params, em, user }) => {
      await em.transactional(async (tx) => {
        const conn = tx.getConnection();
        const deleted = await conn.execute(`delete from listing_favorites where user_id = ? and listing_id = ? returning id`, [user.id, params.id], 'all', tx.getTransactionContext());
        if (deleted.length) {
          await conn.execute(`update listings set favorites_count = greatest(favorites_count - 1, 0) where id = ?`, [params.id], 'run', tx.getTransactionContext());
        }
      });
    },
  );

  r.get(
    '/favorites',
    {
      summary: 'My favorite listings, newest saved first (with their current status)',
      description:
        'A live listing comes in full; one that is sold, withdrawn or expired comes as {id, title, status} only (its contact details and description are no longer public).',
      query: z.object({ page: z.coerce.number().int().min(1).default(1), limit: z.coerce.number().int().min(1).max(100).default(20) }),
      response: paginated(FavoriteListingView),
    },
    async ({ query, em, user }) => {
      const now = new Date();
      const [rows, total] = await em.findAndCount(
        ListingFavorite,
        { userId: user.id, listing: { status: { $ne: 'draft' } } },
        { populate: ['listing', 'listing.horse'], orderBy: { createdAt: 'desc', id: 'desc' }, limit: query.limit, offset: (query.page - 1) * query.limit },
      );
      const live = (l: Listing) => l.status === 'active' && !!l.expiresAt && l.expiresAt > now;
      const items = rows.map((f) => f.listing as Listing).map((l) => (live(l) ? publicView(l) : endedFavoriteView(l)));
      return { items, total, page: query.page, limit: query.limit };
    },
  );

  // ---------------------------------------------------------------- owners

  r.post(
    '/my/listings',
    { summary: 'Create a listing (a draft)', body: CreateListingBody, status: 201, response: OwnerListingView, errors: [404] },
    async ({ body, em, user }) => {
      const { organizationId: requested, horseId, ...fields } = body;
      const organizationId = targetOrganization(user, requested);
      assertNoBreedWithHorse(fields.breed, !!horseId);
      const horse = await linkHorse(em, organizationId, horseId);
      const listing = em.create(Listing, {
        ...fields,
        negotiable: fields.negotiable ?? false,
        images: fields.images ?? [],
        videos: fields.videos ?? [],
        horse: horse ?? null,
        organization: em.getReference(Organization, organizationId),
        ownerId: user.id,
        status: 'draft',
      } as never);
      syncBreed(listing);
      await em.flush();
      return ownerView(listing);
    },
  );

  r.get('/my/listings', { summary: "My organizations' listings, any status", query: MyListingsQuery, response: paginated(OwnerListingView) }, async ({ query, em, user }) => {
    const where: FilterQuery<Listing> = { organization: { $in: memberOrgIds(user) } };
    if (query.status) where.status = query.status;
    const [rows, total] = await em.findAndCount(Listing, where, {
      populate: ['horse'],
      orderBy: { createdAt: 'desc', id: 'desc' },
      limit: query.limit,
      offset: (query.page - 1) * query.limit,
    });
    return { items: rows.map(ownerView), total, page: query.page, limit: query.limit };
  });

  r.get('/my/listings/:id', { summary: 'One of my listings', params: IdParams, response: OwnerListingView, errors: [404] }, async ({ params, em, user }) => {
    return ownerView(await loadOwnedListing(em, user, params.id));
  });

  r.patch(
    '/my/listings/:id',
    { summary: 'Change a listing (until it is sold or withdrawn)', params: IdParams, body: UpdateListingBody, response: OwnerListingView, errors: [404, 409] },
    async ({ params, body, em, user }) => {
      return em.transactional(async (tx) => {
        const listing = await loadOwnedListing(tx, user, params.id, true);
        assertCanApply(listing.status, 'edit');
        const { horseId, ...fields } = body;
        const linkedAfter = horseId === undefined ? !!listing.horse : horseId !== null;
        assertNoBreedWithHorse(fields.breed, linkedAfter);
        const unlinking = horseId === null && !!listing.horse;
        const horse = await linkHorse(tx, listing.organization.id, horseId);
        tx.assign(listing, fields as never);
        if (horse !== undefined) listing.horse = horse as never;
        // Unlinking: the horse's breed does not stay behind; an explicit breed in the same request is kept.
        if (unlinking && fields.breed === undefined) listing.breed = null;
        syncBreed(listing);
        await tx.flush();
        return ownerView(listing);
      });
    },
  );

  r.delete('/my/listings/:id', { summary: 'Delete a draft', params: IdParams, status: 204, errors: [404, 409] }, async ({ params, em, user }) => {
    await em.transactional(async (tx) => {
      const listing = await loadOwnedListing(tx, user, params.id, true);
      assertCanApply(listing.status, 'delete');
      tx.remove(listing);
      await tx.flush();
    });
  });

  r.post(
    '/my/listings/:id/publish',
    {
      summary: 'Publish a draft (idempotent)',
      description:
        "Active for the owner's plan duration (free 30 days, premium 60, pro 120) within the plan's active-listing limit (402 with plan, limit and active count). " +
        'Starts the listing-<id> workflow (reminder before expiry, expiry). Publishing an already active listing answers it unchanged.',
      params: IdParams,
      response: OwnerListingView,
      errors: [402, 404, 409, 503],
    },
    async ({ params, em, user }) => {
      const listing = await em.transactional(async (tx) => {
        const l = await loadOwnedListing(tx, user, params.id, true);
        if (l.status === 'active') return l; // a repeated publish: make sure the workflow runs, change nothing
        assertCanApply(l.status, 'publish');
        const owner = await checkActiveSlot(tx, l);
        const dates = publicationDates(new Date(), owner.plan);
        l.status = 'active';
        l.publishedAt = dates.publishedAt;
        l.expiresAt = dates.expiresAt;
        l.publication += 1;
        syncBreed(l);
        await tx.flush();
        return l;
      });
      await startLifecycle(listing);
      return ownerView(listing);
    },
  );

  r.post(
    '/my/listings/:id/renew',
    {
      summary: 'Renew an active or expired listing',
      description:
        "The expiry moves to now + the plan's duration (never earlier than it was). An expired listing is republished (new publication, counted against the plan limit, a new workflow run).",
      params: IdParams,
      response: OwnerListingView,
      errors: [402, 404, 409, 503],
    },
    async ({ params, em, user }) => {
      const renewedAt = new Date();
      const listing = await em.transactional(async (tx) => {
        const l = await loadOwnedListing(tx, user, params.id, true);
        assertCanApply(l.status, 'renew');
        // An `active` row past its expiry (its workflow has not caught up) no longer holds a
        // slot (see checkActiveSlot): renewing it is a republication, like an expired one.
        const status = l.status === 'active' && l.expiresAt && l.expiresAt <= renewedAt ? 'expired' : l.status;
        const owner = needsActiveSlot(status, 'renew')
          ? await checkActiveSlot(tx, l)
          : await tx.findOneOrFail(User, { id: l.ownerId });
        const dates = renewalDates({ status, publishedAt: l.publishedAt ?? null, expiresAt: l.expiresAt ?? null }, renewedAt, owner.plan);
        if (dates.republished) l.publication += 1;
        l.status = 'active';
        l.publishedAt = dates.publishedAt;
        l.expiresAt = dates.expiresAt;
        syncBreed(l);
        await tx.flush();
        return l;
      });
      await signalRenewal(listing, renewedAt);
      return ownerView(listing);
    },
  );

  for (const action of ['sold', 'withdraw'] as const satisfies ListingAction[]) {
    r.post(
      `/my/listings/:id/${action}`,
      {
        summary: action === 'sold' ? 'Mark a listing sold (final)' : 'Withdraw a listing (final)',
        params: IdParams,
        response: OwnerListingView,
        errors: [404, 409],
      },
      async ({ params, em, user }) => {
        const { listing, wasActive } = await em.transactional(async (tx) => {
          const l = await loadOwnedListing(tx, user, params.id, true);
          const wasActive = l.status === 'active';
          l.status = statusAfter(l.status, action);
          await tx.flush();
          return { listing: l, wasActive };
        });
        if (wasActive) await signalEnd(listing, action);
        return ownerView(listing);
      },
    );
  }

  r.get(
    '/my/listings/:id/lifecycle',
    { summary: "The listing workflow's status (timers, reminder, renewals)", params: IdParams, response: LifecycleView, errors: [404] },
    async ({ params, em, user }) => {
      await loadOwnedListing(em, user, params.id);
      const client = await temporal.client();
      return queryListingStatus(client, params.id);
    },
  );

  return router;
}
