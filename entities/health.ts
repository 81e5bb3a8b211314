import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';
import { Organization } from './accounts';
import { Horse } from './horses';
import { HEALTH_RECORD_KINDS, REMINDER_STAGES, isCareItemKey, type CareItemKey, type HealthDetails, type HealthRecordFacts, type PlanOverride } from '../domain/health';

/**
 * One dated care record of a horse (vaccination, deworming, FEC, farrier, dental, vet,
 * test, document). The per-kind details live in `details`, validated by the kind's schema
 * on every write (api/health/schemas.ts), so one table serves the plan, which reads every
 * kind of a horse at once. A health record is evidence: a delete only marks it
 * (`deleted_at`) and every create, edit and delete writes a HealthRecordAudit row.
 */
export const HealthRecord = defineEntity({
  name: 'HealthRecord',
  tableName: 'health_records',
  indexes: [{ name: 'health_records_horse_kind_date_index', properties: ['horse', 'kind', 'date'] }],
  properties: {
    ...baseProperties,
    horse: () => p.manyToOne(Horse).deleteRule('cascade'),
    kind: p.enum(HEALTH_RECORD_KINDS),
    /** YYYY-MM-DD the care was given (a document's issue date). */
    date: p.date(),
    details: p.json<HealthDetails>(),
    notes: p.text().nullable(),
    /** Records made together for several horses ("the farrier shod six horses today") share it. */
    batchId: p.uuid().nullable().index(),
    /** Who recorded it: the reminder of the item it sets goes to them while they are a member. */
    createdById: p.uuid(),
    updatedById: p.uuid().nullable(),
    deletedAt: p.datetime().nullable(),
    deletedById: p.uuid().nullable(),
  },
});
export type HealthRecord = InferEntity<typeof HealthRecord>;

export const HEALTH_AUDIT_ACTIONS = ['create', 'update', 'delete', 'attach', 'detach'] as const;
export type HealthAuditAction = (typeof HEALTH_AUDIT_ACTIONS)[number];

/**
 * Audit trail of a health record: who, when, what changed (`changes`: field → {from, to};
 * the whole record for a create or delete). No foreign key: the trail outlives the record.
 */
export const HealthRecordAudit = defineEntity({
  name: 'HealthRecordAudit',
  tableName: 'health_record_audits',
  indexes: [{ properties: ['recordId', 'createdAt'] }],
  properties: {
    ...baseProperties,
    recordId: p.uuid(),
    horseId: p.uuid().index(),
    action: p.enum(HEALTH_AUDIT_ACTIONS),
    actorId: p.uuid(),
    changes: p.json<Record<string, { from: unknown; to: unknown }>>(),
  },
});
export type HealthRecordAudit = InferEntity<typeof HealthRecordAudit>;

/** The owner's or vet's change to one care item of a horse's plan (domain PlanOverride). */
export const HealthPlanOverride = defineEntity({
  name: 'HealthPlanOverride',
  tableName: 'health_plan_overrides',
  uniques: [{ properties: ['horse', 'itemKey'] }],
  properties: {
    ...baseProperties,
    horse: () => p.manyToOne(Horse).deleteRule('cascade'),
    itemKey: p.string(),
    enabled: p.boolean(),
    intervalDays: p.integer().nullable(),
    updatedById: p.uuid(),
  },
});
export type HealthPlanOverride = InferEntity<typeof HealthPlanOverride>;

/**
 * A file attached to a record (passport page, vet invoice). Bytes live in object storage
 * under `orgs/<organizationId>/health/<horseId>/<id>.<ext>` (the organization the horse
 * belonged to at upload).
 */
export const HealthAttachment = defineEntity({
  name: 'HealthAttachment',
  tableName: 'health_attachments',
  properties: {
    ...baseProperties,
    record: () => p.manyToOne(HealthRecord).deleteRule('cascade').index(),
    organizationId: p.uuid(),
    storageKey: p.string().unique(),
    contentType: p.string(),
    size: p.integer(),
    filename: p.string().nullable(),
    uploadedById: p.uuid(),
    deletedAt: p.datetime().nullable(),
  },
});
export type HealthAttachment = InferEntity<typeof HealthAttachment>;

/** A read-only link to one horse's health book; only the token's sha256 is stored. */
export const HealthShareLink = defineEntity({
  name: 'HealthShareLink',
  tableName: 'health_share_links',
  properties: {
    ...baseProperties,
    horse: () => p.manyToOne(Horse).deleteRule('cascade').index(),
    tokenHash: p.string().unique(),
    label: p.string().nullable(),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    createdById: p.uuid(),
    lastUsedAt: p.datetime().nullable(),
  },
});
export type HealthShareLink = InferEntity<typeof HealthShareLink>;

/**
 * The secret of an organization's iCalendar feed (due care, gestation milestones, listing
 * expiries); only the token's sha256 is stored, revoking sets `revoked_at`.
 */
export const CalendarFeed = defineEntity({
  name: 'CalendarFeed',
  tableName: 'calendar_feeds',
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade').index(),
    tokenHash: p.string().unique(),
    label: p.string().nullable(),
    createdById: p.uuid(),
    revokedAt: p.datetime().nullable(),
    lastUsedAt: p.datetime().nullable(),
  },
});
export type CalendarFeed = InferEntity<typeof CalendarFeed>;

/**
 * One row per reminder or escalation sent: (horse, item, due date, stage) is unique, so a
 * retried or replayed send never duplicates; a new due date is a new reminder.
 */
export const HealthReminderLog = defineEntity({
  name: 'HealthReminderLog',
  tableName: 'health_reminder_logs',
  uniques: [{ properties: ['horseId', 'itemKey', 'dueDate', 'stage'] }],
  properties: {
    ...baseProperties,
    horseId: p.uuid(),
    itemKey: p.string(),
    dueDate: p.date(),
    stage: p.enum(REMINDER_STAGES),
    sentAt: p.datetime(),
    recipients: p.json<string[]>(),
    channels: p.json<string[]>(),
  },
});
export type HealthReminderLog = InferEntity<typeof HealthReminderLog>;

/** YYYY-MM-DD of a `date` column (a string or a Date, depending on the driver path). */
export function dateColumn(value: unknown): string {
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  return String(value).slice(0, 10);
}

/** What the domain rules need of a stored record. */
export function recordFacts(r: HealthRecord): HealthRecordFacts {
  return { id: r.id, kind: r.kind, date: dateColumn(r.date), details: r.details, createdById: r.createdById, createdAt: r.createdAt.toISOString() } as HealthRecordFacts;
}

/** The overrides of a horse's plan as the domain takes them. */
export function planOverrides(rows: readonly HealthPlanOverride[]): PlanOverride[] {
  return rows.filter((o) => isCareItemKey(o.itemKey)).map((o) => ({ key: o.itemKey as CareItemKey, enabled: o.enabled, intervalDays: o.intervalDays ?? null }));
}
