import { ActivityFailure, allHandlersFinished, condition, continueAsNew, isCancellation, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HealthActivities, HealthReminderSnapshot } from '../../activities/health';
import { reminderStep, reminderTimes, type ReminderStage } from '../../domain/health';
import { nextDueQuery, planChangedSignal, recordChangedSignal, remindersChangedSignal, type HealthRemindersInput, type HealthRemindersResult, type UpcomingReminder } from './messages';

const HOUR_MS = 3_600_000;
/** The longest the workflow sleeps without re-reading the database (bounds how long a lost signal goes unnoticed). */
const RESYNC_MS = 7 * 24 * HOUR_MS;
/** A reminder is retried until its item becomes overdue (the escalation takes over); an escalation for a week. */
const ESCALATION_RETRY_MS = 7 * 24 * HOUR_MS;
/**
 * Continue as new well before Temporal's own suggestion: with a small worker cache an
 * evicted workflow replays its whole history on every wake, so a short history keeps each
 * wake cheap (a weekly re-read adds ~10 events; a year of sends a few hundred).
 */
const MAX_HISTORY_EVENTS = 2_000;

// A read of the database: idempotent, retried without limit (a database outage only delays reminders).
const { loadHealthReminders } = proxyActivities<Pick<HealthActivities, 'loadHealthReminders'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 minutes' },
});
/** Sends are keyed (outbox, notification, health_reminder_logs): retried without an attempt limit until their deadline. */
const sender = (deadlineMs: number) =>
  proxyActivities<Pick<HealthActivities, 'sendHealthReminder'>>({
    startToCloseTimeout: '1 minute',
    scheduleToCloseTimeout: Math.max(60_000, deadlineMs - Date.now()),
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
  }).sendHealthReminder;

const failKey = (key: string, dueDate: string, stage: ReminderStage) => `${key}|${dueDate}|${stage}`;

/**
 * The care reminders of one horse (`health-<horseId>`, queue `health`), for as long as the
 * horse exists. It reads the horse's health book (records, plan overrides, reminders
 * already sent, the recipients' lead time) through `loadHealthReminders`, sends what is due
 * — a reminder `leadDays` before each due date, one escalation the day after it, each once
 * per (horse, item, due date) — and sleeps until the next one. A record or plan change
 * signals it awake; it then re-reads (the database is the truth). A new record moves the
 * item's due date, so the next reminder is a new one. A horse that is gone ends it
 * quietly; a horse that moved organization is reminded to its new members.
 */
export async function healthReminders(input: HealthRemindersInput): Promise<HealthRemindersResult> {
  let snapshot: HealthReminderSnapshot | null = null;
  let loadedAt: number | null = null;
  let needsLoad = true;
  let sentThisRun = 0;
  const failed = new Set(input.carriedFailed ?? []);
  const wake = () => {
    needsLoad = true;
  };
  setHandler(recordChangedSignal, wake);
  setHandler(planChangedSignal, wake);
  setHandler(remindersChangedSignal, wake);

  const timeUtc = () => (snapshot?.found ? snapshot.reminderTimeUtc : undefined);
  // The horse's second in the reminder window, as the last read had it (absent in older histories: 0).
  const offset = () => (snapshot?.found ? (snapshot.reminderOffsetSeconds ?? 0) : 0);
  const itemsNow = () =>
    snapshot?.found
      ? snapshot.items.map((i) => ({ ...i, sent: [...i.sent, ...(['reminder', 'overdue'] as const).filter((s) => failed.has(failKey(i.key, i.dueDate, s)))] }))
      : [];
  setHandler(nextDueQuery, () => {
    const upcoming: UpcomingReminder[] = [];
    for (const i of itemsNow()) {
      const t = reminderTimes(i.dueDate, i.leadDays ?? 0, timeUtc(), offset());
      if (!i.sent.includes('reminder') && Date.now() < t.overdueAt) upcoming.push({ key: i.key, title: i.title, dueDate: i.dueDate, stage: 'reminder', at: new Date(t.remindAt).toISOString() });
      if (!i.sent.includes('overdue')) upcoming.push({ key: i.key, title: i.title, dueDate: i.dueDate, stage: 'overdue', at: new Date(t.overdueAt).toISOString() });
    }
    upcoming.sort((a, b) => a.at.localeCompare(b.at) || a.key.localeCompare(b.key));
    return { horseId: input.horseId, loadedAt: loadedAt === null ? null : new Date(loadedAt).toISOString(), upcoming, sentThisRun };
  });

  // The snapshot was read since the last wake-up (a timer wake plans from the previous read).
  let fresh = false;
  for (;;) {
    while (needsLoad) {
      needsLoad = false; // a signal during the read asks for another one
      snapshot = await loadHealthReminders({ horseId: input.horseId });
      loadedAt = Date.now();
      fresh = true;
    }
    if (!snapshot?.found) {
      log.info('horse not in the database (deleted): health reminders end', { horseId: input.horseId });
      break;
    }

    const now = Date.now();
    const step = reminderStep(itemsNow(), 0, now, timeUtc(), offset());
    const next = step.send[0];
    if (next) {
      const { overdueAt } = reminderTimes(next.dueDate, 0, timeUtc(), offset());
      const deadline = next.stage === 'reminder' ? overdueAt : overdueAt + ESCALATION_RETRY_MS;
      try {
        const result = await sender(deadline)({ horseId: input.horseId, key: next.key, dueDate: next.dueDate, stage: next.stage, plannedAt: new Date(now).toISOString() });
        if (result.outcome === 'sent') sentThisRun += 1;
        if (result.outcome === 'gone') {
          snapshot = { found: false };
          continue;
        }
        if (result.snapshot) {
          // The send read the database after it ran ('already-sent' / 'replanned' say why in it):
          // plan from that read, no second activity and workflow task before sleeping again.
          // A signal during the send has set needsLoad and still gets its own read.
          snapshot = result.snapshot;
          loadedAt = Date.now();
          fresh = true;
          continue;
        }
        // A send result without a snapshot (written before sends returned one): read again.
      } catch (err) {
        if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
        failed.add(failKey(next.key, next.dueDate, next.stage));
        log.warn('health reminder could not be sent; giving up on it', { horseId: input.horseId, ...next, error: err.cause?.message ?? err.message });
      }
      needsLoad = true;
      continue;
    }

    // Woken by the timer and the last read plans nothing now (the weekly re-read, or a plan
    // that moved without a signal reaching us): read again before sleeping.
    if (!fresh) {
      needsLoad = true;
      continue;
    }

    // Nothing due: a natural boundary to start a fresh history (the new run re-reads first).
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || (!!input.continueAsNewAfter && sentThisRun >= input.continueAsNewAfter)) {
      await condition(allHandlersFinished);
      // Failures of items whose due date has moved on no longer matter: carry only the current ones.
      const current = new Set(itemsNow().flatMap((i) => (['reminder', 'overdue'] as const).map((s) => failKey(i.key, i.dueDate, s))));
      await continueAsNew<typeof healthReminders>({ ...input, carriedFailed: [...failed].filter((f) => current.has(f)) });
    }

    const sleepMs = step.wakeAt === null ? RESYNC_MS : Math.min(RESYNC_MS, Math.max(1, step.wakeAt - now));
    // Woken by a signal: needsLoad is set, read again first. Woken by the timer: send what the
    // last read planned for now straight away — the send re-checks the database (horse, item,
    // due date, lead time, already sent) and answers 'replanned' instead of sending a stale
    // reminder — and plan from the snapshot the send returns. A wake-up is then two workflow
    // tasks and one activity (timer fired → send → sleep), as a raw timer workflow's:
    // bench/health-workflows.ts.
    await condition(() => needsLoad, sleepMs);
    fresh = false;
  }

  await condition(allHandlersFinished);
  return { gone: true, sentThisRun };
}
