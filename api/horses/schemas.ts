import { z } from 'zod';
import { HORSE_GENDERS } from '../../domain/horses';
import { mediaUrls, optionalText, text, unprocessable } from '../http/input-policy';

const today = () => new Date().toISOString().slice(0, 10);

export const HorseFields = {
  name: text({ max: 100 }),
  breed: optionalText(100),
  birthDate: z.iso
    .date({ message: 'must be a date like 2019-04-23' })
    .refine((d) => d <= today(), unprocessable('must not be in the future'))
    .nullable()
    .optional(),
  gender: z.enum(HORSE_GENDERS, { message: `must be one of ${HORSE_GENDERS.join(', ')}` }),
  color: optionalText(50),
  heightCm: z.number().int().min(50).max(230).nullable().optional(),
  weightKg: z.number().int().min(20).max(1500).nullable().optional(),
  ueln: z
    .string()
    .trim()
    .regex(/^[0-9A-Za-z]{15}$/, 'must be a 15-character UELN')
    .nullable()
    .optional(),
  microchip: z
    .string()
    .trim()
    .regex(/^[0-9]{15}$/, 'must be a 15-digit ISO 11784 transponder number')
    .nullable()
    .optional(),
  sireId: z.uuid().nullable().optional(),
  sireName: optionalText(100),
  damId: z.uuid().nullable().optional(),
  damName: optionalText(100),
  images: mediaUrls(20).optional(),
};

export const CreateHorseBody = z.strictObject({ ...HorseFields, organizationId: z.uuid().optional() }).openapi('CreateHorse');
export const UpdateHorseBody = z
  .strictObject({ ...HorseFields, name: HorseFields.name.optional(), gender: HorseFields.gender.optional() })
  .refine((b) => Object.keys(b).length > 0, 'must change at least one field')
  .openapi('UpdateHorse', { minProperties: 1 });

export const HORSE_SORTS = ['name', '-name', 'birthDate', '-birthDate', 'createdAt', '-createdAt'] as const;
export const ListHorsesQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  q: text({ max: 100 }).optional(),
  gender: z.enum(HORSE_GENDERS).optional(),
  breed: text({ max: 100 }).optional(),
  organizationId: z.uuid().optional(),
  sort: z.enum(HORSE_SORTS).default('name'),
});

export const HorseView = z
  .object({
    id: z.uuid(),
    organizationId: z.uuid(),
    name: z.string(),
    breed: z.string().nullable(),
    birthDate: z.string().nullable(),
    gender: z.enum(HORSE_GENDERS),
    color: z.string().nullable(),
    heightCm: z.number().nullable(),
    weightKg: z.number().nullable(),
    ueln: z.string().nullable(),
    microchip: z.string().nullable(),
    sireId: z.uuid().nullable(),
    sireName: z.string().nullable(),
    damId: z.uuid().nullable(),
    damName: z.string().nullable(),
    images: z.array(z.string()),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .openapi('Horse');
export type HorseView = z.infer<typeof HorseView>;
