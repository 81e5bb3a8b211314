import { z } from 'zod';
import { text as policyText, unprocessable } from '../http/input-policy';
import {
  COVER_METHODS,
  CHECK_KINDS,
  CHECK_RESULTS,
  coverDateProblem,
  dateOf,
  daysFrom,
  eventDateProblem,
  FOAL_SEXES,
  GESTATION,
  MILESTONE_KINDS,
  MILESTONE_STATES,
  GESTATION_STATUSES,
} from '../../domain/gestation';

/**
 * The UTC date. Users east of UTC are already on the next day, so "not in the future"
 * accepts up to GESTATION.futureToleranceDays (1) day after it (domain/gestation.ts).
 */
const today = () => dateOf(Date.now());
const IsoDate = z.iso.date({ message: 'must be a date like 2025-04-23' });
/** A cover or event date: not in the future (1 day of tolerance), not more than 400 days ago. */
const GestationDate = IsoDate.superRefine((d, ctx) => {
  const problem = coverDateProblem(d, today());
  if (problem) ctx.addIssue({ code: 'custom', ...unprocessable(problem) });
});
/** An event date (check, loss, foaling): not in the future (1 day of tolerance). Its relation to the cover date is checked by the route. */
const EventDate = IsoDate.superRefine((d, ctx) => {
  const problem = eventDateProblem(d, today());
  if (problem) ctx.addIssue({ code: 'custom', ...unprocessable(problem) });
});
const text = (max: number) => policyText({ max, multiline: max >= 2000 });

export const GestationOptionsSchema = z
  .strictObject({
    fetalSexing: z.boolean().optional(),
    ehv1Month3: z.boolean().optional(),
    rotavirus: z.boolean().optional(),
    hasCaslick: z.boolean().optional(),
  })
  .openapi('GestationOptions');

const OVULATION_MAX_DAYS_FROM_COVER = 10;
function checkOvulation(ovulationDate: string | null | undefined, coverDates: string[], ctx: z.RefinementCtx, path: string) {
  if (!ovulationDate || !coverDates.length) return;
  const nearest = Math.min(...coverDates.map((c) => Math.abs(daysFrom(c, ovulationDate))));
  if (nearest > OVULATION_MAX_DAYS_FROM_COVER) {
    ctx.addIssue({ code: 'custom', path: [path], ...unprocessable(`must be within ${OVULATION_MAX_DAYS_FROM_COVER} days of a cover date`) });
  }
}

export const CreateGestationBody = z
  .strictObject({
    mareId: z.uuid({ message: 'must be a UUID' }),
    stallionId: z.uuid({ message: 'must be a UUID' }).optional(),
    stallionName: text(100).optional(),
    coverDates: z.array(GestationDate).min(1, 'must list at least one cover or insemination date').max(10),
    ovulationDate: GestationDate.optional(),
    method: z.enum(COVER_METHODS, { message: `must be one of ${COVER_METHODS.join(', ')}` }),
    vet: z.strictObject({ name: text(100).optional(), contact: text(200).optional() }).optional(),
    options: GestationOptionsSchema.optional(),
    previousGestationDays: z
      .array(z.number().int().min(GESTATION.historyMinDays).max(GESTATION.historyMaxDays))
      .max(20)
      .optional()
      .describe("The mare's previous gestation lengths, in days: they centre her expected foaling window"),
    notes: text(2000).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.stallionId && b.stallionName) ctx.addIssue({ code: 'custom', path: ['stallionId'], message: 'give either stallionId (our stallion) or stallionName (an external one), not both' });
    if (!b.stallionId && !b.stallionName) ctx.addIssue({ code: 'custom', path: ['stallionId'], message: 'stallionId (our stallion) or stallionName (an external one) is required' });
    checkOvulation(b.ovulationDate, b.coverDates, ctx, 'ovulationDate');
  })
  // Exactly one of stallionId / stallionName, stated for the document.
  .openapi('CreateGestation', { oneOf: [{ required: ['stallionId'] }, { required: ['stallionName'] }] });

export const UpdateGestationBody = z
  .strictObject({
    coverDate: GestationDate.optional().describe('The corrected cover date (replaces every cover date)'),
    coverDates: z.array(GestationDate).min(1).max(10).optional(),
    ovulationDate: GestationDate.nullable().optional(),
    options: GestationOptionsSchema.optional(),
    vet: z.strictObject({ name: text(100).nullable().optional(), contact: text(200).nullable().optional() }).optional(),
    notes: text(2000).nullable().optional(),
  })
  .superRefine((b, ctx) => {
    if (Object.keys(b).length === 0) ctx.addIssue({ code: 'custom', message: 'must change at least one field' });
    if (b.coverDate && b.coverDates) ctx.addIssue({ code: 'custom', path: ['coverDate'], message: 'give coverDate or coverDates, not both' });
  })
  .openapi('UpdateGestation', { minProperties: 1, not: { required: ['coverDate', 'coverDates'] } });

export const RecordCheckBody = z
  .strictObject({
    kind: z.enum(CHECK_KINDS, { message: `must be one of ${CHECK_KINDS.join(', ')}` }),
    date: EventDate,
    result: z.enum(CHECK_RESULTS, { message: `must be one of ${CHECK_RESULTS.join(', ')}` }),
    notes: text(2000).optional(),
  })
  .openapi('RecordGestationCheck');

export const RecordLossBody = z.strictObject({ date: EventDate, notes: text(2000).optional() }).openapi('RecordGestationLoss');

export const RecordFoalingBody = z
  .strictObject({
    date: EventDate,
    foal: z.strictObject({
      name: text(100),
      sex: z.enum(FOAL_SEXES, { message: `must be one of ${FOAL_SEXES.join(', ')}` }),
      color: text(50).optional(),
    }),
    notes: text(2000).optional(),
  })
  .openapi('RecordFoaling');

export const ListGestationsQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  status: z.enum(GESTATION_STATUSES).optional(),
  mareId: z.uuid().optional(),
  active: z.enum(['true', 'false']).optional(),
});

export const ReminderPreferencesBody = z
  .strictObject({
    leadDays: z.number().int().min(0).max(60),
    email: z.boolean(),
    inApp: z.boolean(),
  })
  .refine((b) => b.email || b.inApp, { path: ['email'], ...unprocessable('at least one channel (email or inApp) must be on') })
  .openapi('ReminderPreferencesInput');

export const ReminderPreferencesView = z
  .object({ leadDays: z.number().int(), email: z.boolean(), inApp: z.boolean(), isDefault: z.boolean() })
  .openapi('ReminderPreferences');

const MilestoneView = z.object({
  id: z.string(),
  title: z.string(),
  description: z.string(),
  kind: z.enum(MILESTONE_KINDS),
  dueDay: z.number().int(),
  dueDate: z.string(),
  reminderDate: z.string(),
  reminderAt: z.string(),
  optional: z.boolean(),
  state: z.enum(MILESTONE_STATES),
  sentAt: z.string().nullable(),
});

export const TimelineView = z
  .object({
    source: z.enum(['workflow', 'database']).describe('workflow = live query of the running workflow; database = rebuilt from the records'),
    anchorDate: z.string(),
    anchor: z.enum(['cover', 'ovulation']),
    leadDays: z.number().int(),
    expectedFoalingDate: z.string(),
    milestones: z.array(MilestoneView),
  })
  .openapi('GestationTimeline');

export const GestationView = z
  .object({
    id: z.uuid(),
    organizationId: z.uuid(),
    mare: z.object({ id: z.uuid(), name: z.string() }),
    stallionId: z.uuid().nullable(),
    stallionName: z.string().nullable(),
    coverDates: z.array(z.string()),
    ovulationDate: z.string().nullable(),
    method: z.enum(COVER_METHODS),
    vet: z.object({ name: z.string().nullable(), contact: z.string().nullable() }),
    status: z.enum(GESTATION_STATUSES),
    expectedFoalingDate: z.string(),
    options: GestationOptionsSchema,
    previousGestationDays: z.array(z.number().int()),
    notes: z.string().nullable(),
    outcomeDate: z.string().nullable(),
    foalId: z.uuid().nullable(),
    endedAt: z.date().nullable(),
    workflowId: z.string(),
    createdAt: z.date(),
    updatedAt: z.date(),
  })
  .openapi('Gestation');

export const GestationDetailView = GestationView.extend({
  checks: z.array(z.object({ id: z.uuid(), kind: z.enum(CHECK_KINDS), date: z.string(), result: z.enum(CHECK_RESULTS), notes: z.string().nullable(), createdAt: z.date() })),
  reminders: z.array(z.object({ milestoneId: z.string(), title: z.string(), dueDate: z.string(), sentAt: z.date(), channels: z.array(z.string()) })),
  timeline: TimelineView,
}).openapi('GestationDetail');
