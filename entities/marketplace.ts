import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { FullTextType } from '@mikro-orm/postgresql';
import { baseProperties } from './base';
import { Organization } from './accounts';
import { Horse } from './horses';
import { CURRENCIES, LISTING_STATUSES, LISTING_TYPES } from '../domain/listings';

/**
 * The search document: title (weight A), breed (B) and description (C), each parsed with
 * both the English and the French configuration so "mares" finds "mare" and "juments"
 * finds "jument". A stored generated column: Postgres keeps it in step with every insert
 * and update, whoever writes the row (API, seed script, SQL console).
 */
const doc = (column: string, weight: 'A' | 'B' | 'C') =>
  `setweight(to_tsvector('english'::regconfig, coalesce(${column}, '')), '${weight}') || ` +
  `setweight(to_tsvector('french'::regconfig, coalesce(${column}, '')), '${weight}')`;
export const LISTING_SEARCH_DOCUMENT = `${doc('title', 'A')} || ${doc('breed', 'B')} || ${doc('description', 'C')}`;

/** Listings are searched only while active: the search and sort indexes are partial on that. */
const ACTIVE = `status = 'active'`;

/**
 * The live-listing rule (domain/listings.ts `isLive`) as a SQL condition on the `listings`
 * table, optionally through an alias: active and not past its expiry. Every query that
 * shows, counts or touches live listings uses this one, so the rule cannot drift.
 */
export function liveListingSql(alias?: string): string {
  const c = alias ? `${alias}.` : '';
  return `${c}status = 'active' and ${c}expires_at > now()`;
}

export const Listing = defineEntity({
  name: 'Listing',
  tableName: 'listings',
  indexes: [
    { name: 'listings_owner_status_index', properties: ['ownerId', 'status'] },
    { name: 'listings_organization_index', properties: ['organization', 'createdAt'] },
    { name: 'listings_search_index', expression: `create index "listings_search_index" on "listings" using gin ("search_vector") where ${ACTIVE}` },
    // Newest first, carrying what relevance search checks (the document and the filters), so
    // its walks are index-only (Migration20261203160000_search_index_only_relevance).
    {
      name: 'listings_active_newest_index',
      expression: `create index "listings_active_newest_index" on "listings" ("published_at" desc, "id" desc) include ("expires_at", "type", "country", "currency", "price_cents", "breed", "horse_id", "search_head") where ${ACTIVE}`,
    },
    { name: 'listings_active_price_index', expression: `create index "listings_active_price_index" on "listings" ("price_cents", "id") where ${ACTIVE}` },
    {
      name: 'listings_active_type_newest_index',
      expression: `create index "listings_active_type_newest_index" on "listings" ("type", "published_at" desc, "id" desc) where ${ACTIVE}`,
    },
    {
      name: 'listings_active_country_newest_index',
      expression: `create index "listings_active_country_newest_index" on "listings" ("country", "published_at" desc, "id" desc) where ${ACTIVE}`,
    },
    // Breed filters are newest-first like every filtered search: walking one breed's listings in
    // that order stops after a page (a lower(breed)-only index read every listing of the breed
    // and joined all of them to horses before sorting: 62 ms for "KWPN + age 4-8" at 100k).
    {
      name: 'listings_active_breed_newest_index',
      expression: `create index "listings_active_breed_newest_index" on "listings" (lower("breed"), "published_at" desc, "id" desc) where ${ACTIVE}`,
    },
    { name: 'listings_horse_index', properties: ['horse'] },
  ],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    /** The user who created it; their plan sets the limits and they get the notices. */
    ownerId: p.uuid(),
    /** Optional: one of our horses, of the same organization (age and breed come from it). */
    horse: () => p.manyToOne(Horse).nullable().deleteRule('set null'),
    type: p.enum(LISTING_TYPES),
    status: p.enum(LISTING_STATUSES).default('draft'),
    title: p.string().length(150),
    description: p.text(),
    /** Copied from the linked horse on every owner write (it is part of the search document); free text otherwise. */
    breed: p.string().length(100).nullable(),
    /** Integer minor units (cents) of `currency`. */
    priceCents: p.integer(),
    currency: p.enum(CURRENCIES),
    negotiable: p.boolean().default(false),
    /** The seller shows the linked horse's health summary (domain/health.ts healthSummary) on the listing page: off unless asked. */
    shareHealthSummary: p.boolean().default(false),
    images: p.json<string[]>().defaultRaw(`'[]'`),
    videos: p.json<string[]>().defaultRaw(`'[]'`),
    city: p.string().length(100).nullable(),
    /** ISO 3166-1 alpha-2. */
    country: p.string().length(2).nullable(),
    latitude: p.double().nullable(),
    longitude: p.double().nullable(),
    contactEmail: p.string().nullable(),
    contactPhone: p.string().length(40).nullable(),
    views: p.integer().default(0),
    favoritesCount: p.integer().default(0),
    publishedAt: p.datetime().nullable(),
    expiresAt: p.datetime().nullable(),
    /**
     * Bumped on every publish and every republish after expiry; the lifecycle workflow
     * carries it so an expiry for an earlier publication never touches a later one.
     */
    publication: p.integer().default(0),
    searchVector: p.type(FullTextType).generated(`(${LISTING_SEARCH_DOCUMENT}) stored`).nullable().lazy().hidden(),
    /**
     * The search_vector again when it fits an index entry (`listing_search_head`: at most 2,000
     * bytes of text form + 4 per lexeme), else null; listings_active_newest_index includes it.
     */
    searchHead: p.type(FullTextType).generated(`(listing_search_head(${LISTING_SEARCH_DOCUMENT})) stored`).nullable().lazy().hidden(),
  },
});
export type Listing = InferEntity<typeof Listing>;

/** A user's saved listing; one per user and listing. */
export const ListingFavorite = defineEntity({
  name: 'ListingFavorite',
  tableName: 'listing_favorites',
  uniques: [{ name: 'listing_favorites_user_listing_unique', properties: ['userId', 'listing'] }],
  indexes: [{ name: 'listing_favorites_user_created_index', properties: ['userId', 'createdAt'] }, { properties: ['listing'] }],
  properties: {
    ...baseProperties,
    userId: p.uuid(),
    listing: () => p.manyToOne(Listing).deleteRule('cascade'),
  },
});
export type ListingFavorite = InferEntity<typeof ListingFavorite>;
