import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CheckKind, CheckResult, GestationOptions, Milestone, PregnancyStatus, TimelineEntry } from '../../domain/gestation';

/** What the workflow needs to plan; also what it carries across continueAsNew. */
export interface GestationPlanInput {
  anchorDate: string;
  anchor: 'cover' | 'ovulation';
  leadDays: number;
  options: GestationOptions;
  previousGestationDays: number[];
}

export interface GestationInput extends GestationPlanInput {
  pregnancyId: string;
  /** The user reminded (the pregnancy's creator). */
  userId: string;
  /** Set when continuing as new (and by the API when it starts a pregnancy already confirmed). */
  status?: PregnancyStatus;
  carried?: { sent: Record<string, string>; done: string[]; missed: string[]; failed: string[] };
}

export interface GestationResult {
  status: PregnancyStatus;
  sent: string[];
  missed: string[];
  failed: string[];
}

export interface GestationTimeline {
  pregnancyId: string;
  status: PregnancyStatus;
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

/** A vet check result (negative ends, twins flags and alerts, positive confirms). */
export const checkRecordedSignal = defineSignal<[CheckRecorded]>('checkRecorded');
export const pregnancyLostSignal = defineSignal<[{ date: string }]>('pregnancyLost');
export const foaledSignal = defineSignal<[{ date: string; foalId: string }]>('foaled');
/** New anchor: a corrected cover date or a recorded ovulation date. Reschedules every future reminder. */
export const coverDateCorrectedSignal = defineSignal<[{ anchorDate: string; anchor: 'cover' | 'ovulation' }]>('coverDateCorrected');
/** The user changed their lead time or switched optional milestones on/off. */
export const remindersChangedSignal = defineSignal<[{ leadDays?: number; options?: GestationOptions }]>('remindersChanged');

export const timelineQuery = defineQuery<GestationTimeline>('timeline');
export const nextReminderQuery = defineQuery<NextReminder>('nextReminder');
