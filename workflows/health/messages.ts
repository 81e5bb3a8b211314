import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CareItemKey, ReminderStage } from '../../domain/health';

export interface HealthRemindersInput {
  horseId: string;
  /** Sends that failed for good (`key|dueDate|stage`), carried across continueAsNew so they are not retried forever. */
  carriedFailed?: string[];
  /**
   * TEST ONLY (never set by the API): continue as new at the next natural boundary once
   * this many reminders were sent in the current run, to exercise continueAsNew.
   */
  continueAsNewAfter?: number;
}

export interface HealthRemindersResult {
  /** The horse is gone (deleted): the workflow ended quietly. */
  gone: true;
  sentThisRun: number;
}

/** One upcoming reminder, as the `nextDue` query shows it. */
export interface UpcomingReminder {
  key: CareItemKey;
  title: string;
  dueDate: string;
  stage: ReminderStage;
  /** ISO time the send is planned for. */
  at: string;
}

export interface HealthRemindersState {
  horseId: string;
  /** The last read of the database (ISO, workflow time). */
  loadedAt: string | null;
  upcoming: UpcomingReminder[];
  sentThisRun: number;
}

/*
 * Signals are wake-ups: the API commits a record, an edit, a delete or a plan change,
 * then signals; the workflow re-reads the horse's health book from the database. A lost
 * signal is caught up at the next wake-up (at most a week later).
 */
export const recordChangedSignal = defineSignal<[{ recordId?: string }]>('recordChanged');
export const planChangedSignal = defineSignal<[{ key?: CareItemKey }]>('planChanged');
/**
 * A recipient changed their reminder preferences (lead time): the reminder dates move, so
 * the workflow re-reads now instead of at its weekly re-read. Sent by the API to every
 * running workflow of the horses whose reminders may reach that user.
 */
export const remindersChangedSignal = defineSignal<[{ leadDays?: number }]>('remindersChanged');
/** The reminders still to go out, soonest first. */
export const nextDueQuery = defineQuery<HealthRemindersState>('nextDue');
