import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { routeBuilder, IdParams, paginated } from '../http/route';
import type { ListingAction } from '../../domain/listings';
import {
  CreateListingBody,
  FavoriteListingView,
  FavoriteView,
  LifecycleView,
  MyListingsQuery,
  OwnerListingView,
  ListingDetailView,
  SearchListingsQuery,
  SearchResponse,
  UpdateListingBody,
} from './schemas';
import { createMarketplaceService } from './service';
import { detailView, endedFavoriteView, ownerView, publicView, rowView } from './views';

/**
 * The marketplace, mounted at /api/marketplace: route declarations, views and HTTP
 * mapping. Transactions, transitions and the listing workflow live in ./service.ts.
 *
 * Public (no auth): GET /listings (search), GET /listings/:id (counts a view).
 * Signed in: POST/DELETE /listings/:id/favorite, GET /favorites.
 * Owners, under /my/listings (members of the listing's organization; another
 * organization's listing answers 404): create (draft), list, get, PATCH, DELETE (drafts),
 * POST /:id/publish | /renew | /sold | /withdraw, GET /:id/lifecycle (the workflow's status).
 */
export function createMarketplaceRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api/marketplace', tag: 'marketplace', authenticate: ctx.authenticate });
  const marketplace = createMarketplaceService(deps);

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
      const { rows, nextCursor } = await marketplace.search(em, query);
      return { items: rows.map(rowView), nextCursor };
    },
  );

  r.get(
    '/listings/:id',
    {
      summary: 'One active listing (counts a view)',
      description:
        "`health` is the linked horse's health summary (vaccinations up to date, last vet check, Coggins valid until) when the seller shares it (shareHealthSummary), else null. Never the records.",
      auth: false,
      params: IdParams,
      response: ListingDetailView,
      errors: [404],
    },
    async ({ params, em }) => {
      const listing = await marketplace.viewListing(em, params.id);
      return detailView(listing, await marketplace.sharedHealth(em, listing));
    },
  );

  // ---------------------------------------------------------------- favorites

  r.post(
    '/listings/:id/favorite',
    { summary: 'Save an active listing to my favorites (idempotent)', params: IdParams, response: FavoriteView, errors: [404] },
    async ({ params, em, user }) => {
      const { favoritesCount } = await marketplace.favorite(em, user, params.id);
      return { listingId: params.id, favorited: true, favoritesCount };
    },
  );

  r.delete(
    '/listings/:id/favorite',
    { summary: 'Remove a listing from my favorites (idempotent)', params: IdParams, status: 204 },
    async ({ params, em, user }) => {
      await marketplace.unfavorite(em, user, params.id);
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
      const page = await marketplace.favorites(em, user, query);
      return { ...page, items: page.items.map(({ listing, live }) => (live ? publicView(listing) : endedFavoriteView(listing))) };
    },
  );

  // ---------------------------------------------------------------- owners

  r.post(
    '/my/listings',
    { summary: 'Create a listing (a draft)', body: CreateListingBody, status: 201, response: OwnerListingView, errors: [404] },
    async ({ body, em, user }) => ownerView(await marketplace.create(em, user, body)),
  );

  r.get('/my/listings', { summary: "My organizations' listings, any status", query: MyListingsQuery, response: paginated(OwnerListingView) }, async ({ query, em, user }) => {
    const page = await marketplace.mine(em, user, query);
    return { ...page, items: page.items.map(ownerView) };
  });

  r.get('/my/listings/:id', { summary: 'One of my listings', params: IdParams, response: OwnerListingView, errors: [404] }, async ({ params, em, user }) => {
    return ownerView(await marketplace.getMine(em, user, params.id));
  });

  r.patch(
    '/my/listings/:id',
    { summary: 'Change a listing (until it is sold or withdrawn)', params: IdParams, body: UpdateListingBody, response: OwnerListingView, errors: [404, 409] },
    async ({ params, body, em, user }) => ownerView(await marketplace.update(em, user, params.id, body)),
  );

  r.delete('/my/listings/:id', { summary: 'Delete a draft', params: IdParams, status: 204, errors: [404, 409] }, async ({ params, em, user }) => {
    await marketplace.deleteDraft(em, user, params.id);
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
    async ({ params, em, user }) => ownerView(await marketplace.publish(em, user, params.id)),
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
    async ({ params, em, user }) => ownerView(await marketplace.renew(em, user, params.id)),
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
      async ({ params, em, user }) => ownerView(await marketplace.end(em, user, params.id, action)),
    );
  }

  r.get(
    '/my/listings/:id/lifecycle',
    { summary: "The listing workflow's status (timers, reminder, renewals)", params: IdParams, response: LifecycleView, errors: [404] },
    async ({ params, em, user }) => marketplace.lifecycle(em, user, params.id),
  );

  return router;
}
