/**
 * The reminder window. Every health-book and gestation reminder of a day is planned "at
 * REMINDER_TIME_UTC on its date"; sent all at that one instant they are a thundering herd on
 * the worker, on Temporal and on the email provider (10,000 a day). So each subject (a horse
 * for the health book, a gestation) goes out at REMINDER_TIME_UTC + its own offset, a whole
 * number of seconds in [0, REMINDER_WINDOW_MINUTES × 60), from a stable hash of its id: the
 * same horse is reminded at the same second every day (owners see a stable time), and a day's
 * reminders spread evenly over the window.
 *
 * Pure and stable: the hash is FNV-1a 32-bit over the UTF-8 bytes of the id, fixed by the
 * unit test's vectors. Changing it moves every owner's reminder time, and a send planned
 * with the old offset would be refused by the send's re-check until the workflow re-reads.
 * Workflows never compute it: the activities put it in the snapshot they return (recorded
 * in the history), the way REMINDER_TIME_UTC reaches them.
 */

/** The longest window REMINDER_WINDOW_MINUTES accepts (12 hours). */
export const REMINDER_WINDOW_MAX_MINUTES = 720;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a, 32 bits, over the UTF-8 encoding of `text` (an unsigned 32-bit integer). */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** Is `minutes` a window REMINDER_WINDOW_MINUTES accepts (a whole number of minutes, 0–720)? */
export function isReminderWindow(minutes: number): boolean {
  return Number.isInteger(minutes) && minutes >= 0 && minutes <= REMINDER_WINDOW_MAX_MINUTES;
}

/**
 * Seconds after REMINDER_TIME_UTC at which the reminders of `subjectId` (the horse id of a
 * health book, the gestation id of a gestation) go out: `fnv1a32(subjectId) mod (window × 60)`,
 * in [0, windowMinutes × 60); 0 for a window of 0 (everyone exactly at REMINDER_TIME_UTC).
 */
export function reminderOffsetSeconds(subjectId: string, windowMinutes: number): number {
  if (!subjectId) throw new Error('reminderOffsetSeconds needs a non-empty subject id (a horse or gestation id)');
  if (!isReminderWindow(windowMinutes)) {
    throw new Error(`reminder window must be a whole number of minutes from 0 to ${REMINDER_WINDOW_MAX_MINUTES}, got ${windowMinutes}`);
  }
  return windowMinutes === 0 ? 0 : fnv1a32(subjectId) % (windowMinutes * 60);
}

/** Is `seconds` an offset a snapshot may carry (a whole number of seconds inside the longest window)? */
export function isReminderOffset(seconds: number): boolean {
  return Number.isInteger(seconds) && seconds >= 0 && seconds < REMINDER_WINDOW_MAX_MINUTES * 60;
}

/** The settings that place a subject's reminders in the day (REMINDER_TIME_UTC, REMINDER_WINDOW_MINUTES; config/index.ts). */
export interface ReminderTimeSettings {
  REMINDER_TIME_UTC: string;
  REMINDER_WINDOW_MINUTES: number;
}

/**
 * When `subjectId`'s reminders go out, as the snapshots and plans carry it: the time of day
 * and the subject's offset in the window. One rule for the activities (what the workflow
 * plans from, and the send's re-check) and the API's views.
 */
export function reminderClock(subjectId: string, settings: ReminderTimeSettings): { reminderTimeUtc: string; reminderOffsetSeconds: number } {
  return { reminderTimeUtc: settings.REMINDER_TIME_UTC, reminderOffsetSeconds: reminderOffsetSeconds(subjectId, settings.REMINDER_WINDOW_MINUTES) };
}
