import type { Horse, Listing } from '../../entities';
import { ageInYears } from '../../domain/listings';
import type { HealthSummary } from '../../domain/health';
import { toDateString } from '../horses/access';
import type { SearchRow } from './search';

/**
 * What the marketplace answers, from entities or search rows. The zod schemas in
 * schemas.ts describe the same shapes for validation and OpenAPI.
 */

type HorseFields = { id: string; name: string; breed?: string | null; birthDate?: unknown; gender: string };

export function horseSummary(h: HorseFields | null | undefined) {
  if (!h) return null;
  const birthDate = toDateString(h.birthDate);
  return { id: h.id, name: h.name, breed: h.breed ?? null, birthDate, ageYears: birthDate ? ageInYears(birthDate, new Date()) : null, gender: h.gender };
}

/** The linked horse when it was loaded (populated); an unloaded reference only knows its id and is not shown. */
function loadedHorse(l: Listing): Horse | null {
  const horse = l.horse as Horse | null | undefined;
  return horse && horse.name !== undefined ? horse : null;
}

export function publicView(l: Listing) {
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
    horse: horseSummary(loadedHorse(l)),
  };
}

/** One listing's page: its public fields and, when the seller shares it, the horse's health summary. */
export function detailView(l: Listing, health: HealthSummary | null) {
  return { ...publicView(l), health };
}

/** A favorite that is no longer live (sold, withdrawn, expired): no contact details, no description. */
export function endedFavoriteView(l: Listing) {
  return { id: l.id, title: l.title, status: l.status === 'active' ? ('expired' as const) : l.status };
}

export function ownerView(l: Listing) {
  return {
    ...publicView(l),
    organizationId: l.organization.id,
    ownerId: l.ownerId,
    horseId: l.horse?.id ?? null,
    shareHealthSummary: l.shareHealthSummary,
    publication: l.publication,
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
  };
}

export function rowView(row: SearchRow) {
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
