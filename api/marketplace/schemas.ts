import '../http/openapi'; // extends zod with .openapi() before the schemas below use it
import { z } from 'zod';
import { COUNTRY_CODES, CURRENCIES, LISTING_STATUSES, LISTING_TYPES, MAX_PRICE_CENTS, isCountryCode } from '../../domain/listings';
import { HORSE_GENDERS } from '../../domain/horses';
import { TEST_RESULTS } from '../../domain/health';

import { anyCasePattern, mediaUrls, optionalText, text, unprocessable } from '../http/input-policy';

/** What the document states about a search cursor (base64url text); search.ts decodes it. */
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]+$';

/** Country codes as accepted: any case, surrounding spaces trimmed. */
const COUNTRY_PATTERN = anyCasePattern(COUNTRY_CODES, { trimmed: true });


export const ListingFields = {
  type: z.enum(LISTING_TYPES, { message: `must be one of ${LISTING_TYPES.join(', ')}` }),
  title: text({ min: 3, max: 150 }),
  description: text({ max: 10_000, multiline: true }),
  /** Only when no horse is linked (a linked horse's breed is used; sending both is a 400). */
  breed: optionalText(100),
  priceCents: z
    .number({ message: 'must be a number of cents' })
    .int('must be whole minor units (cents)')
    .min(0, 'must not be negative')
    .max(MAX_PRICE_CENTS, `must be at most ${MAX_PRICE_CENTS}`),
  currency: z.enum(CURRENCIES, { message: `must be one of ${CURRENCIES.join(', ')}` }),
  negotiable: z.boolean().optional(),
  /** Show the linked horse's health summary on the listing page (default false). */
  shareHealthSummary: z.boolean().optional(),
  horseId: z.uuid({ message: 'must be a UUID' }).nullable().optional(),
  images: mediaUrls(20).optional(),
  videos: mediaUrls(10).optional(),
  city: optionalText(100),
  country: z
    .string()
    .trim()
    .transform((c) => c.toUpperCase())
    .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 country code like FR or DE')
    .openapi({ pattern: COUNTRY_PATTERN })
    .nullable()
    .optional(),
  latitude: z.number().min(-90).max(90).nullable().optional(),
  longitude: z.number().min(-180).max(180).nullable().optional(),
  contactEmail: z.email({ message: 'must be an email address' }).max(255).nullable().optional(),
  contactPhone: z
    .string()
    .trim()
    .regex(/^\+?[0-9 ().-]{6,30}$/, 'must be a phone number like +33 6 12 34 56 78')
    .nullable()
    .optional(),
};

const coordinatesTogether = (b: { latitude?: number | null; longitude?: number | null }) =>
  (b.latitude === undefined) === (b.longitude === undefined) && (b.latitude === null) === (b.longitude === null);

export const CreateListingBody = z
  .strictObject({ ...ListingFields, organizationId: z.uuid().optional() })
  .refine(coordinatesTogether, { ...unprocessable('latitude and longitude go together'), path: ['longitude'] })
  .openapi('CreateListing');

export const UpdateListingBody = z
  .strictObject({
    ...ListingFields,
    type: ListingFields.type.optional(),
    title: ListingFields.title.optional(),
    description: ListingFields.description.optional(),
    priceCents: ListingFields.priceCents.optional(),
    currency: ListingFields.currency.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'must change at least one field')
  .refine(coordinatesTogether, { ...unprocessable('latitude and longitude go together'), path: ['longitude'] })
  .openapi('UpdateListing', { minProperties: 1 });

export const LISTING_SORTS = ['newest', 'price', '-price', 'relevance'] as const;
export type ListingSort = (typeof LISTING_SORTS)[number];

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const SearchListingsQuery = z
  .object({
    q: text({ max: 200 }).optional(),
    type: z.enum(LISTING_TYPES, { message: `must be one of ${LISTING_TYPES.join(', ')}` }).optional(),
    minPrice: int(0, MAX_PRICE_CENTS).optional().describe('In minor units (cents) of the listing currency'),
    maxPrice: int(0, MAX_PRICE_CENTS).optional().describe('In minor units (cents) of the listing currency'),
    currency: z.enum(CURRENCIES, { message: `must be one of ${CURRENCIES.join(', ')}` }).optional(),
    country: z
      .string()
      .trim()
      .transform((c) => c.toUpperCase())
      .refine(isCountryCode, 'must be an ISO 3166-1 alpha-2 country code like FR')
      .openapi({ pattern: COUNTRY_PATTERN })
      .optional(),
    breed: text({ max: 100 }).optional(),
    minAge: int(0, 60).optional().describe("The linked horse's age in whole years"),
    maxAge: int(0, 60).optional(),
    sort: z.enum(LISTING_SORTS, { message: `must be one of ${LISTING_SORTS.join(', ')}` }).optional().describe('Default: relevance with q, else newest'),
    limit: int(1, 50).default(20),
    cursor: z.string().min(1).max(500).openapi({ pattern: CURSOR_PATTERN }).optional().describe('nextCursor of the previous page'),
  })
  // Combinations of parameters, which the document cannot state: 422 (api/http/route.ts).
  .refine((q) => q.minPrice === undefined || q.maxPrice === undefined || q.minPrice <= q.maxPrice, {
    ...unprocessable('must not be above maxPrice'),
    path: ['minPrice'],
  })
  .refine((q) => q.minAge === undefined || q.maxAge === undefined || q.minAge <= q.maxAge, { ...unprocessable('must not be above maxAge'), path: ['minAge'] })
  .refine((q) => q.sort !== 'relevance' || q.q !== undefined, { ...unprocessable('relevance needs a search text (q)'), path: ['sort'] })
  // Prices are in the listing's currency: comparing or ordering them across currencies is meaningless.
  .refine((q) => q.currency !== undefined || (q.minPrice === undefined && q.maxPrice === undefined && q.sort !== 'price' && q.sort !== '-price'), {
    ...unprocessable('is required with minPrice, maxPrice or sort=price/-price (prices are compared in one currency)'),
    path: ['currency'],
  });
export type SearchListingsQuery = z.output<typeof SearchListingsQuery>;

export const MyListingsQuery = z.object({
  status: z.enum(LISTING_STATUSES).optional(),
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

export const HorseSummary = z
  .object({ id: z.uuid(), name: z.string(), breed: z.string().nullable(), birthDate: z.string().nullable(), ageYears: z.number().int().nullable(), gender: z.enum(HORSE_GENDERS) })
  .openapi('ListingHorse');

const publicShape = {
  id: z.uuid(),
  type: z.enum(LISTING_TYPES),
  status: z.enum(LISTING_STATUSES),
  title: z.string(),
  description: z.string(),
  breed: z.string().nullable(),
  priceCents: z.number().int(),
  currency: z.enum(CURRENCIES),
  negotiable: z.boolean(),
  images: z.array(z.string()),
  videos: z.array(z.string()),
  city: z.string().nullable(),
  country: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  contactEmail: z.string().nullable(),
  contactPhone: z.string().nullable(),
  views: z.number().int(),
  favoritesCount: z.number().int(),
  publishedAt: z.date().nullable(),
  expiresAt: z.date().nullable(),
  horse: HorseSummary.nullable(),
};

export const PublicListingView = z.object(publicShape).openapi('Listing');
/** The linked horse's health book in three facts (domain/health.ts healthSummary); no record. */
export const ListingHealthSummary = z
  .object({
    vaccinationsUpToDate: z.boolean(),
    lastVetCheck: z.iso.date().nullable(),
    /** Expiry of the latest negative Coggins (EIA) certificate; null when the latest Coggins test is not negative. */
    cogginsValidUntil: z.iso.date().nullable(),
    /** Result of the latest Coggins test; `unknown` = not on record (or not readable in an old record). */
    cogginsResult: z.enum(TEST_RESULTS).nullable(),
  })
  .openapi('ListingHealthSummary');
/** One listing's page: the search hit's fields, and the health summary when the seller shares it (null otherwise). */
export const ListingDetailView = z.object({ ...publicShape, health: ListingHealthSummary.nullable() }).openapi('ListingDetail');
/** A favorite that is sold, withdrawn or expired: only enough to show it in the list. */
export const EndedFavoriteView = z
  .object({ id: z.uuid(), title: z.string(), status: z.enum(['sold', 'withdrawn', 'expired']) })
  .openapi('EndedFavoriteListing');
export const FavoriteListingView = z.union([PublicListingView, EndedFavoriteView]).openapi('FavoriteListing');
export const SearchResultView = z.object({ ...publicShape, rank: z.number().nullable() }).openapi('ListingSearchHit');
export const SearchResponse = z.object({ items: z.array(SearchResultView), nextCursor: z.string().nullable() }).openapi('ListingSearchPage');

export const OwnerListingView = z
  .object({
    ...publicShape,
    organizationId: z.uuid(),
    ownerId: z.uuid(),
    horseId: z.uuid().nullable(),
    shareHealthSummary: z.boolean(),
    publication: z.number().int(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .openapi('MyListing');

export const LifecycleView = z
  .object({
    listingId: z.uuid(),
    status: z.enum(['active', 'expired', 'sold', 'withdrawn', 'deleted']),
    publication: z.number().int(),
    expiresAt: z.string(),
    reminderAt: z.string().nullable(),
    reminderSent: z.boolean(),
    renewals: z.number().int(),
  })
  .openapi('ListingLifecycle');

export const FavoriteView = z.object({ listingId: z.uuid(), favorited: z.boolean(), favoritesCount: z.number().int() }).openapi('ListingFavorite');
