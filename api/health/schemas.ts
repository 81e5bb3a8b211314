import { z } from 'zod';
import {
  CARE_ITEM_KEYS,
  CARE_STATUSES,
  COMPETITION_RULES,
  DEWORMER_CLASSES,
  DOCUMENT_TYPES,
  ELIGIBILITY_RULE_IDS,
  FARRIER_WORK,
  HEALTH,
  HEALTH_RECORD_KINDS,
  TEST_RESULT_INPUTS,
  TEST_TYPES,
  VACCINE_DISEASES,
} from '../../domain/health';
import { text as policyText } from '../http/input-policy';

const oneOf = (values: readonly string[]) => `must be one of ${values.join(', ')}`;
/** The shared text policy (api/http/input-policy.ts): no control characters, trimmed, bounded; long fields may span lines. */
const text = (max: number) => policyText({ max, multiline: max >= 2000 });
const optionalText = (max: number) => text(max).nullable().optional();
/** A real calendar date (2026-02-30 is refused). */
export const IsoDate = z.iso.date({ message: 'must be a date like 2026-04-23' });
const optionalDate = IsoDate.nullable().optional();

export const VaccinationDetails = z.strictObject({
  diseases: z
    .array(z.enum(VACCINE_DISEASES, { message: oneOf(VACCINE_DISEASES) }))
    .min(1, 'name at least one disease the vaccine covers')
    .max(VACCINE_DISEASES.length),
  product: optionalText(200),
  batch: optionalText(100),
  doseNumber: z.number().int().min(1).max(50).nullable().optional(),
  givenBy: optionalText(200),
});
export const DewormingDetails = z.strictObject({
  product: optionalText(200),
  drugClass: z.enum(DEWORMER_CLASSES, { message: oneOf(DEWORMER_CLASSES) }),
});
export const FecalEggCountDetails = z.strictObject({
  eggsPerGram: z.number().int('must be a whole number of eggs per gram').min(0).max(100_000),
});
export const FarrierDetails = z.strictObject({
  work: z.enum(FARRIER_WORK, { message: oneOf(FARRIER_WORK) }),
  farrier: optionalText(200),
});
export const DentalDetails = z.strictObject({ practitioner: optionalText(200) });
export const VetDetails = z.strictObject({
  reason: text(500),
  medication: optionalText(500),
  medicationEndsOn: optionalDate,
  followUpOn: optionalDate,
  woundOrSurgery: z.boolean().optional(),
  vet: optionalText(200),
});
export const TestDetails = z.strictObject({
  testType: z.enum(TEST_TYPES, { message: oneOf(TEST_TYPES) }),
  name: optionalText(200),
  /** Only a negative Coggins (EIA) test is a certificate; without a result the test is not one either. */
  result: z
    .enum(TEST_RESULT_INPUTS, { message: `${oneOf(TEST_RESULT_INPUTS)} (put the lab's own wording in resultText)` })
    .nullable()
    .optional(),
  resultText: optionalText(500),
  expiresOn: optionalDate,
});
export const DocumentDetails = z.strictObject({
  documentType: z.enum(DOCUMENT_TYPES, { message: oneOf(DOCUMENT_TYPES) }),
  name: optionalText(200),
  reference: optionalText(200),
  expiresOn: optionalDate,
});

export const DETAILS_SCHEMAS = {
  vaccination: VaccinationDetails,
  deworming: DewormingDetails,
  fecal_egg_count: FecalEggCountDetails,
  farrier: FarrierDetails,
  dental: DentalDetails,
  vet: VetDetails,
  test: TestDetails,
  document: DocumentDetails,
} as const;

const Kind = z.enum(HEALTH_RECORD_KINDS, { message: oneOf(HEALTH_RECORD_KINDS) });
const common = { date: IsoDate, notes: optionalText(5000) };

const variant = <K extends (typeof HEALTH_RECORD_KINDS)[number], D extends z.ZodType>(kind: K, details: D) => z.strictObject({ kind: z.literal(kind), ...common, details });

/** One body per kind; `kind` picks the details schema (an unknown kind is a 400 naming the known ones). */
export const RecordBody = z
  .discriminatedUnion(
    'kind',
    [
      variant('vaccination', VaccinationDetails),
      variant('deworming', DewormingDetails),
      variant('fecal_egg_count', FecalEggCountDetails),
      variant('farrier', FarrierDetails),
      variant('dental', DentalDetails),
      variant('vet', VetDetails),
      variant('test', TestDetails),
      variant('document', DocumentDetails),
    ],
    { error: `kind ${oneOf(HEALTH_RECORD_KINDS)}` },
  )
  .openapi('HealthRecordInput');
export type RecordBody = z.output<typeof RecordBody>;

/** An edit: the kind stays (a farrier visit does not become a vaccination); details are replaced whole. */
export const UpdateRecordBody = z
  .strictObject({ date: IsoDate.optional(), notes: optionalText(5000), details: z.record(z.string(), z.unknown()).optional() })
  .refine((b) => Object.keys(b).length > 0, 'must change at least one field')
  .openapi('HealthRecordUpdate', { minProperties: 1 });

export const BulkRecordBody = z
  .strictObject({
    horseIds: z
      .array(z.uuid({ message: 'must be a UUID' }))
      .min(1)
      .max(200)
      .refine((ids) => new Set(ids).size === ids.length, 'must not repeat a horse')
      .openapi({ uniqueItems: true }),
    kind: Kind,
    date: IsoDate,
    notes: optionalText(5000),
    details: z.record(z.string(), z.unknown()),
  })
  .openapi('HealthBulkRecordInput');

export const HorseParams = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
export const RecordParams = z.object({ id: z.uuid({ message: 'must be a UUID' }), recordId: z.uuid({ message: 'must be a UUID' }) });
export const RecordsQuery = z.object({
  kind: Kind.optional(),
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const RecordListQuery = RecordsQuery.extend({ includeDeleted: z.enum(['true', 'false']).default('false') });

export const DueQuery = z.object({
  within: z
    .string()
    .regex(/^\d{1,3}d$/, 'must be a number of days like 30d')
    // The document states the whole rule (0d–365d) as a pattern; the refine below says it in words.
    .openapi({ pattern: '^(?:[0-2]?[0-9]{1,2}|3[0-5][0-9]|36[0-5])d$' })
    .default('30d')
    .transform((s) => Number(s.slice(0, -1)))
    .refine((n) => n >= 0 && n <= 365, 'must be between 0d and 365d'),
  organizationId: z.uuid().optional(),
});

export const EligibilityQuery = z.object({
  date: IsoDate,
  rules: z.enum(COMPETITION_RULES, { message: oneOf(COMPETITION_RULES) }).default('fei'),
});

export const PlanParams = z.object({
  id: z.uuid({ message: 'must be a UUID' }),
  key: z.enum(CARE_ITEM_KEYS as [string, ...string[]], { message: oneOf(CARE_ITEM_KEYS) }),
});
export const PlanOverrideBody = z
  .strictObject({
    enabled: z.boolean(),
    intervalDays: z
      .number()
      .int('must be a whole number of days')
      .min(HEALTH.minIntervalDays, `must be at least ${HEALTH.minIntervalDays} day`)
      .max(HEALTH.maxIntervalDays, `must be at most 5 years (${HEALTH.maxIntervalDays} days)`)
      .nullable()
      .optional(),
  })
  .openapi('HealthPlanOverrideInput');

export const ShareLinkBody = z
  .strictObject({
    expiresInDays: z.number().int().min(1).max(90).default(14),
    label: optionalText(200),
  })
  .openapi('HealthShareLinkInput');
export const ShareLinkParams = z.object({ id: z.uuid({ message: 'must be a UUID' }), linkId: z.uuid({ message: 'must be a UUID' }) });
/** Tokens are 43 base64url characters (32 random bytes); anything else is not one. */
export const TokenParams = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'is not a valid token') });
export const FeedFileParams = z.object({ file: z.string().regex(/^[A-Za-z0-9_-]{43}\.ics$/, 'is not a valid feed address') });

export const CalendarFeedBody = z.strictObject({ organizationId: z.uuid().optional(), label: optionalText(200) }).openapi('CalendarFeedInput');
export const FeedParams = z.object({ feedId: z.uuid({ message: 'must be a UUID' }) });

export const AttachmentParams = z.object({ attachmentId: z.uuid({ message: 'must be a UUID' }) });
export const UploadParams = z.object({ recordId: z.uuid({ message: 'must be a UUID' }) });
export const UploadQuery = z.object({ filename: text(200).optional() });
export const SharedAttachmentParams = TokenParams.extend({ attachmentId: z.uuid({ message: 'must be a UUID' }) });

// ----- views -----

export const AttachmentView = z
  .object({ id: z.uuid(), recordId: z.uuid(), contentType: z.string(), size: z.number().int(), filename: z.string().nullable(), uploadedById: z.uuid().nullable(), createdAt: z.date() })
  .openapi('HealthAttachment');

export const RecordView = z
  .object({
    id: z.uuid(),
    horseId: z.uuid(),
    kind: Kind,
    date: z.string(),
    details: z.record(z.string(), z.unknown()),
    notes: z.string().nullable(),
    batchId: z.uuid().nullable(),
    createdById: z.uuid().nullable(),
    updatedById: z.uuid().nullable(),
    deletedAt: z.date().nullable(),
    createdAt: z.date(),
    updatedAt: z.date(),
    attachments: z.array(AttachmentView),
  })
  .openapi('HealthRecord');

export const AuditView = z
  .object({ id: z.uuid(), action: z.string(), actorId: z.uuid(), at: z.date(), changes: z.record(z.string(), z.object({ from: z.unknown(), to: z.unknown() })) })
  .openapi('HealthAuditEntry');

export const CareItemView = z
  .object({
    key: z.string(),
    kind: Kind,
    title: z.string(),
    enabled: z.boolean(),
    rule: z.string(),
    intervalDays: z.number().int().nullable(),
    lastDone: z.string().nullable(),
    lastRecordId: z.uuid().nullable(),
    nextDue: z.string().nullable(),
    status: z.enum(CARE_STATUSES),
    /** Why the item needs action (status action_needed: a test that is not negative), else null. */
    attention: z.string().nullable(),
  })
  .openapi('HealthCareItem');

export const HealthBookView = z
  .object({
    horse: z.object({ id: z.uuid(), name: z.string() }),
    today: z.string(),
    items: z.array(CareItemView),
    records: z.object({ items: z.array(RecordView), total: z.number().int(), page: z.number().int(), limit: z.number().int() }),
  })
  .openapi('HealthBook');

export const DueView = z
  .object({
    today: z.string(),
    withinDays: z.number().int(),
    items: z.array(CareItemView.extend({ horse: z.object({ id: z.uuid(), name: z.string(), organizationId: z.uuid() }) })),
  })
  .openapi('HealthDue');

export const EligibilityView = z
  .object({
    horseId: z.uuid(),
    rules: z.enum(COMPETITION_RULES),
    regulation: z.string(),
    date: z.string(),
    eligible: z.boolean(),
    failures: z.array(z.object({ rule: z.enum(ELIGIBILITY_RULE_IDS), message: z.string() })),
    boosterNeededBy: z.string().nullable(),
    validUntil: z.string().nullable(),
    doses: z.array(z.object({ date: z.string(), doseNumber: z.number().nullable().optional(), position: z.number() })),
  })
  .openapi('CompetitionEligibility');

export const ShareLinkView = z
  .object({ id: z.uuid(), horseId: z.uuid(), label: z.string().nullable(), expiresAt: z.date(), revokedAt: z.date().nullable(), createdAt: z.date(), lastUsedAt: z.date().nullable() })
  .openapi('HealthShareLink');
export const CreatedShareLinkView = ShareLinkView.extend({ token: z.string(), url: z.string() }).openapi('HealthShareLinkCreated');

export const CalendarFeedView = z
  .object({ id: z.uuid(), organizationId: z.uuid(), label: z.string().nullable(), revokedAt: z.date().nullable(), createdAt: z.date(), lastUsedAt: z.date().nullable() })
  .openapi('CalendarFeed');
export const CreatedCalendarFeedView = CalendarFeedView.extend({ token: z.string(), url: z.string() }).openapi('CalendarFeedCreated');

export const SharedHealthBookView = z
  .object({
    horse: z.object({ name: z.string(), breed: z.string().nullable(), birthDate: z.string().nullable(), gender: z.string() }),
    expiresAt: z.date(),
    today: z.string(),
    items: z.array(CareItemView.omit({ lastRecordId: true })),
    records: z.array(RecordView.omit({ createdById: true, updatedById: true, deletedAt: true, batchId: true })),
  })
  .openapi('SharedHealthBook');
