import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';
import { Organization } from './accounts';
import { HORSE_GENDERS } from '../domain/horses';

export const Horse = defineEntity({
  name: 'Horse',
  tableName: 'horses',
  indexes: [{ properties: ['organization', 'name'] }],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    name: p.string(),
    breed: p.string().nullable(),
    /** Indexed: the marketplace age filter compares it. */
    birthDate: p.date().nullable().index(),
    gender: p.enum(HORSE_GENDERS),
    color: p.string().nullable(),
    heightCm: p.integer().nullable(),
    weightKg: p.integer().nullable(),
    /** UELN / SIRE registration number. */
    ueln: p.string().nullable(),
    microchip: p.string().nullable(),
    sireId: p.uuid().nullable(),
    sireName: p.string().nullable(),
    damId: p.uuid().nullable(),
    damName: p.string().nullable(),
    images: p.json<string[]>().defaultRaw(`'[]'`),
    createdById: p.uuid(),
  },
});
export type Horse = InferEntity<typeof Horse>;
