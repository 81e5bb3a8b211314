import type { EntityManager } from '@mikro-orm/postgresql';
import { Horse } from '../../entities';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { loadOwned } from '../organizations/scope';

/** A horse of one of the caller's organizations, else 404 (whether it exists or not). */
export function loadOwnedHorse(em: EntityManager, user: AuthUser, horseId: string): Promise<Horse> {
  return loadOwned(em, Horse, user, horseId, { what: 'Horse' });
}

/**
 * The read-only twin of loadOwnedHorse for GET /api/horses/:id: one SQL statement mapped
 * straight to the view, no entity and no unit of work (the ORM's findOne was a third of the
 * CPU of this request in the bench/api-auth.ts profile). Same 404 rule.
 */
export async function loadOwnedHorseView(em: EntityManager, user: AuthUser, horseId: string): Promise<ReturnType<typeof horseView>> {
  const orgs = memberOrgIds(user);
  const [h] = orgs.length
    ? ((await em
        .getConnection()
        .execute(
          `select id, organization_id, name, breed, birth_date::text as birth_date, gender, color, height_cm, weight_kg, ueln, microchip,
                  sire_id, sire_name, dam_id, dam_name, images, created_at, updated_at
             from horses where id = ? and organization_id in (${orgs.map(() => '?').join(', ')})`,
          [horseId, ...orgs],
        )) as HorseRow[])
    : [];
  if (!h) throw new HttpError(404, `Horse ${horseId} not found`);
  return {
    id: h.id,
    organizationId: h.organization_id,
    name: h.name,
    breed: h.breed ?? null,
    birthDate: h.birth_date ?? null,
    gender: h.gender as Horse['gender'],
    color: h.color ?? null,
    heightCm: h.height_cm ?? null,
    weightKg: h.weight_kg ?? null,
    ueln: h.ueln ?? null,
    microchip: h.microchip ?? null,
    sireId: h.sire_id ?? null,
    sireName: h.sire_name ?? null,
    damId: h.dam_id ?? null,
    damName: h.dam_name ?? null,
    images: h.images ?? [],
    createdAt: new Date(h.created_at),
    updatedAt: new Date(h.updated_at),
  };
}

interface HorseRow {
  id: string;
  organization_id: string;
  name: string;
  breed: string | null;
  birth_date: string | null;
  gender: string;
  color: string | null;
  height_cm: number | null;
  weight_kg: number | null;
  ueln: string | null;
  microchip: string | null;
  sire_id: string | null;
  sire_name: string | null;
  dam_id: string | null;
  dam_name: string | null;
  images: string[] | null;
  created_at: Date | string;
  updated_at: Date | string;
}

export function toDateString(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value).slice(0, 10);
}

export function horseView(h: Horse) {
  return {
    id: h.id,
    organizationId: h.organization.id,
    name: h.name,
    breed: h.breed ?? null,
    birthDate: toDateString(h.birthDate),
    gender: h.gender,
    color: h.color ?? null,
    heightCm: h.heightCm ?? null,
    weightKg: h.weightKg ?? null,
    ueln: h.ueln ?? null,
    microchip: h.microchip ?? null,
    sireId: h.sireId ?? null,
    sireName: h.sireName ?? null,
    damId: h.damId ?? null,
    damName: h.damName ?? null,
    images: h.images ?? [],
    createdAt: h.createdAt,
    updatedAt: h.updatedAt,
  };
}
