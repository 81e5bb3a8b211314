import { defineEntity, p, type EntityManager, type InferEntity } from '@mikro-orm/core';
import { baseProperties } from './base';
import { Organization } from './accounts';
import { Horse } from './horses';
import { ACTIVE_GESTATION_STATUSES, COVER_METHODS, CHECK_KINDS, CHECK_RESULTS, GESTATION_STATUSES, type GestationOptions } from '../domain/gestation';

/**
 * A gestation record of a mare. The gestationTracking workflow
 * (`gestation-<id>`) reminds the creator of every milestone. This row is the source of
 * truth: the API commits state changes here, then signals the workflow, which re-reads it.
 * At most one active (tracking/confirmed/twins) gestation per mare (partial unique index).
 */
export const GESTATION_MARE_ACTIVE_UNIQUE = 'gestations_mare_active_unique';
export const Gestation = defineEntity({
  name: 'Gestation',
  tableName: 'gestations',
  indexes: [{ properties: ['organization', 'status'] }],
  uniques: [{ name: GESTATION_MARE_ACTIVE_UNIQUE, properties: ['mare'], where: { status: { $in: [...ACTIVE_GESTATION_STATUSES] } } }],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    mare: () => p.manyToOne(Horse).deleteRule('cascade').index(),
    /** The user who registered it; reminders go to them, with their preferences. */
    createdById: p.uuid().index(),
    /** Our stallion (a horse of the caller's organizations) or an external one by name. */
    stallionId: p.uuid().nullable(),
    stallionName: p.string().nullable(),
    /** YYYY-MM-DD, ascending; the plan is anchored on the last one unless ovulationDate is set. */
    coverDates: p.json<string[]>(),
    ovulationDate: p.date().nullable(),
    method: p.enum(COVER_METHODS),
    vetName: p.string().nullable(),
    vetContact: p.string().nullable(),
    status: p.enum(GESTATION_STATUSES).default('tracking'),
    expectedFoalingDate: p.date(),
    options: p.json<GestationOptions>(),
    /** The mare's previous gestation lengths (days), when she has foaled before. */
    previousGestationDays: p.json<number[]>(),
    notes: p.text().nullable(),
    /** Date of the loss, the foaling or the negative check that ended the tracking. */
    outcomeDate: p.date().nullable(),
    foalId: p.uuid().nullable(),
    endedAt: p.datetime().nullable(),
  },
});
export type Gestation = InferEntity<typeof Gestation>;

/** Every ultrasound / vet check recorded for a gestation. */
export const GestationCheck = defineEntity({
  name: 'GestationCheck',
  tableName: 'gestation_checks',
  properties: {
    ...baseProperties,
    gestation: () => p.manyToOne(Gestation).deleteRule('cascade').index(),
    kind: p.enum(CHECK_KINDS),
    date: p.date(),
    result: p.enum(CHECK_RESULTS),
    notes: p.text().nullable(),
    recordedById: p.uuid(),
  },
});
export type GestationCheck = InferEntity<typeof GestationCheck>;

/** One row per reminder sent: (gestation, milestone) is unique, so a retried send never duplicates. */
export const ReminderLog = defineEntity({
  name: 'ReminderLog',
  tableName: 'reminder_logs',
  uniques: [{ properties: ['gestationId', 'milestoneId'] }],
  properties: {
    ...baseProperties,
    gestationId: p.uuid(),
    milestoneId: p.string(),
    title: p.string(),
    dueDate: p.date(),
    sentAt: p.datetime(),
    channels: p.json<string[]>(),
  },
});
export type ReminderLog = InferEntity<typeof ReminderLog>;

/** How a user wants reminders; absent row = defaults (REMINDER_LEAD_DAYS, email + in-app). */
export const ReminderPreferences = defineEntity({
  name: 'ReminderPreferences',
  tableName: 'reminder_preferences',
  properties: {
    ...baseProperties,
    userId: p.uuid().unique(),
    leadDays: p.integer(),
    email: p.boolean(),
    inApp: p.boolean(),
  },
});
export type ReminderPreferences = InferEntity<typeof ReminderPreferences>;

export interface ReminderChannels {
  leadDays: number;
  email: boolean;
  inApp: boolean;
}

/**
 * A user's reminder preferences, or the defaults (REMINDER_LEAD_DAYS, email and in-app).
 * Shared by the gestation activities and the API (preferences, timelines rebuilt from the database).
 */
export async function reminderPreferencesOf(em: EntityManager, userId: string, defaultLeadDays: number): Promise<ReminderChannels> {
  const prefs = await em.findOne(ReminderPreferences, { userId });
  return prefs ? { leadDays: prefs.leadDays, email: prefs.email, inApp: prefs.inApp } : { leadDays: defaultLeadDays, email: true, inApp: true };
}

