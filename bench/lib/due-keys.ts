/**
 * The keys of the sleeping-workflow benches (bench/lib/sleeping-workflows.ts) say what the
 * stand-in activities answer for them: the key is the horse / gestation id.
 */
import { configSchema } from '../../config';
import { reminderOffsetSeconds } from '../../domain/reminder-window';

/**
 * Keys: `<tag>-far-<i>` sleeps for weeks; `<tag>-due<HHMM>-<i>` has a reminder at HH:MM UTC
 * today exactly; `<tag>-due<HHMM>w-<i>` at HH:MM + its offset in a 1-minute reminder window.
 */
export const dueKey = (tag: string, hhmm: string, i: number, windowed: boolean) => `${tag}-due${hhmm.replace(':', '')}${windowed ? 'w' : ''}-${i}`;
const DUE_KEY = /-due(\d\d)(\d\d)(w?)-/;
/** The reminder time a key asks for (validated like the real REMINDER_TIME_UTC), or null for a far one. */
export function dueTimeOf(key: string): string | null {
  const m = DUE_KEY.exec(key);
  return m ? configSchema.shape.REMINDER_TIME_UTC.parse(`${m[1]}:${m[2]}`) : null;
}
/**
 * The key's offset in the reminder window (seconds after its HH:MM), as the stand-in
 * snapshots carry it: the real domain function over the key (the horse / gestation id) with
 * a 1-minute window, or 0 for an at-once or far key.
 */
export function dueOffsetSecondsOf(key: string): number {
  return DUE_KEY.exec(key)?.[3] ? reminderOffsetSeconds(key, 1) : 0;
}
