import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CheckKind, CheckResult, FailedReminders, GestationOptions, Milestone, GestationStatus, TimelineEntry } from '../../domain/gestation';

/** The plan as the API saw it at the start (shown until the first read of the database); carried across continueAsNew. */
export interface GestationPlanInput {
  anchorDate: string;
  anchor: 'cover' | 'ovulation';
  leadDays: number;
  options: GestationOptions;
  previousGestationDays: number[];
  /** REMINDER_TIME_UTC and the gestation's offset in the reminder window, as the API had them (the timeline shows them until the first read). */
  reminderTimeUtc?: string;
  reminderOffsetSeconds?: number;
}

export interface GestationInput extends GestationPlanInput {
  gestationId: string;
  /** The user reminded (the gestation's creator). */
  userId: string;
  /** Set when continuing as new (and by the API when it starts a gestation already confirmed). */
  status?: GestationStatus;
  /** What only the workflow knows, carried across continueAsNew (done and missed are re-derived from the database and the plan). */
  carried?: { sent: Record<string, string>; failed: FailedReminders; alerted: string[] };
  /**
   * TEST ONLY (never set by the API): continue as new at the next natural boundary once
   * this many reminders were sent in the current run, to exercise continueAsNew.
   */
  continueAsNewAfter?: number;
}

export interface GestationResult {
  status: GestationStatus;
  /** The gestation row disappeared (deleted with its mare, or its creation rolled back): tracking ended quietly. */
  gone?: true;
  sent: string[];
  missed: string[];
  failed: string[];
}

export interface GestationTimeline {
  gestationId: string;
  status: GestationStatus;
  anchorDate: string;
  anchor: 'cover' | 'ovulation';
  leadDays: number;
  expectedFoalingDate: string;
  milestones: TimelineEntry[];
}

export type NextReminder = Pick<Milestone, 'id' | 'title' | 'dueDate' | 'reminderDate' | 'reminderAt'> | null;

export interface CheckRecorded {
  checkId: string;
  kind: CheckKind;
  date: string;
  result: CheckResult;
}

/*
 * Signals are wake-ups: the API sends them after committing the change, and the workflow
 * re-reads the gestation from the database. Their payload only updates what the queries
 * show until that read; a lost signal is caught up at the next wake-up.
 */

/** A vet check result (negative ends, twins flags and alerts, positive confirms). */
export const checkRecordedSignal = defineSignal<[CheckRecorded]>('checkRecorded');
export const gestationLostSignal = defineSignal<[{ date: string }]>('gestationLost');
export const foaledSignal = defineSignal<[{ date: string; foalId: string }]>('foaled');
/** New anchor: a corrected cover date or a recorded ovulation date. Reschedules every future reminder. */
export const coverDateCorrectedSignal = defineSignal<[{ anchorDate: string; anchor: 'cover' | 'ovulation' }]>('coverDateCorrected');
/** The user changed their lead time or switched optional milestones on/off. */
export const remindersChangedSignal = defineSignal<[{ leadDays?: number; options?: GestationOptions }]>('remindersChanged');

export const timelineQuery = defineQuery<GestationTimeline>('timeline');
export const nextReminderQuery = defineQuery<NextReminder>('nextReminder');
