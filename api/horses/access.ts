import type { EntityManager } from '@mikro-orm/postgresql';
import { Horse } from '../../entities';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';

/** A horse of one of the caller's organizations, else 404 (whether it exists or not). */
export async function loadOwnedHorse(em: EntityManager, user: AuthUser, horseId: string): Promise<Horse> {
  const horse = await em.findOne(Horse, { id: horseId, organization: { $in: memberOrgIds(user) } });
  if (!horse) throw new HttpError(404, `Horse ${horseId} not found`);
  return horse;
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
