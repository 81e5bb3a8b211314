import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { FoundGestationSnapshot, GestationActivities, GestationPlanSnapshot } from '../../activities/gestation';
import {
  buildTimeline,
  CHECK_MILESTONE,
  currentFailures,
  dateOf,
  expectedFoalingDate,
  gestationMilestones,
  isActiveStatus,
  missedMilestones,
  reminderDeadline,
  reminderDecision,
  statusAfterCheck,
  type FailedReminders,
  type Milestone,
  type GestationStatus,
} from '../../domain/gestation';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  nextReminderQuery,
  gestationLostSignal,
  remindersChangedSignal,
  timelineQuery,
  type GestationInput,
  type GestationResult,
} from './messages';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
/** The longest the workflow sleeps without re-reading the gestation (bounds how long a lost signal goes unnoticed). */
const RESYNC_MS = 7 * 24 * HOUR_MS;
/** A send may still run this long after its deadline, so that its own last attempt records what went out. */
const DEADLINE_GRACE_MS = 2 * HOUR_MS;

// A read of the database: idempotent, retried without limit (a database outage only delays the workflow).
const { loadGestation } = proxyActivities<Pick<GestationActivities, 'loadGestation'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '10 minutes' },
});
// Sends are keyed (outbox, notification, reminder_logs): retried without an attempt limit,
// at most an hour apart, so a provider outage delays a reminder instead of losing it.
const SEND_RETRY = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' } as const;
const { sendGestationAlert } = proxyActivities<Pick<GestationActivities, 'sendGestationAlert'>>({ startToCloseTimeout: '1 minute', retry: SEND_RETRY });
/** A reminder send retried until its deadline (the milestone's due date has passed), then given up as failed. */
const reminderSender = (deadline: string | null) =>
  proxyActivities<Pick<GestationActivities, 'sendGestationReminder'>>({
    startToCloseTimeout: '1 minute',
    ...(deadline ? { scheduleToCloseTimeout: Math.max(MINUTE_MS, Date.parse(deadline) - Date.now() + DEADLINE_GRACE_MS) } : {}),
    retry: SEND_RETRY,
  }).sendGestationReminder;

/**
 * Tracks one gestation for ~11 months and reminds its creator of every milestone (email +
 * in-app, keyed by gestation + milestone).
 *
 * The database is the source of truth: whenever a signal wakes the workflow and at least
 * weekly it re-reads the gestation through `loadGestation` — status, anchor date, options,
 * lead time, checks, reminders already logged — and plans from that. A timer wake-up sends
 * what that read planned without reading again; the send re-checks the database, refuses a
 * reminder the gestation no longer calls for, and returns the same snapshot read after it
 * ran, which the workflow plans from next.
 * Signals are wake-ups (their payload only refreshes what queries show until the re-read),
 * so a signal the API failed to send is caught up at the next wake-up (at most a week).
 * A gestation row that is gone (never committed, deleted with its mare) ends it quietly.
 *
 * Missed is derived from the current plan, never stored: a dated milestone whose due date
 * has passed is missed; overdue alerts (a state: "no foaling by day X") go out even late,
 * only the ones superseded by a later alert are missed.
 */
export async function gestationTracking(input: GestationInput): Promise<GestationResult> {
  // What the workflow knows of the gestation: the last read of the database, plus signal hints since.
  let plan: GestationPlanSnapshot = {
    anchorDate: input.anchorDate,
    anchor: input.anchor,
    leadDays: input.leadDays,
    options: { ...input.options },
    previousGestationDays: [...input.previousGestationDays],
    // Only the queries before the first read use these: the loop reads before it plans.
    ...(input.reminderTimeUtc !== undefined ? { reminderTimeUtc: input.reminderTimeUtc } : {}),
    ...(input.reminderOffsetSeconds !== undefined ? { reminderOffsetSeconds: input.reminderOffsetSeconds } : {}),
  };
  let status: GestationStatus = input.status ?? 'tracking';
  let sent: Record<string, string> = { ...input.carried?.sent };
  let done = new Set<string>();
  let twinsChecks: { checkId: string; date: string }[] = [];
  // Workflow-only facts, carried across continueAsNew.
  const failed: FailedReminders = { ...input.carried?.failed };
  const alerted = new Set(input.carried?.alerted ?? []);

  let needsLoad = true;
  let gone = false;
  let sentThisRun = 0;

  const milestones = (): Milestone[] => gestationMilestones(plan);
  const isOpen = (m: Milestone) => !sent[m.id] && !done.has(m.id) && failed[m.id] !== m.dueDate;
  const factsAt = (ms: Milestone[], nowMs: number) => {
    const failedNow = currentFailures(ms, failed);
    return { sent, done: [...done], failed: failedNow, missed: missedMilestones(ms, { sent, done: [...done], failed: failedNow }, nowMs) };
  };
  const wake = () => {
    needsLoad = true;
  };

  // Hints: the API has committed the change before signalling; the re-read that follows is what counts.
  setHandler(checkRecordedSignal, (check) => {
    wake();
    if (!isActiveStatus(status)) return;
    status = statusAfterCheck(status, check.result);
    const milestone = CHECK_MILESTONE[check.kind];
    if (milestone && check.result !== 'negative') done.add(milestone);
  });
  setHandler(gestationLostSignal, () => {
    wake();
    if (isActiveStatus(status)) status = 'lost';
  });
  setHandler(foaledSignal, () => {
    wake();
    if (!isActiveStatus(status)) return;
    status = 'foaled';
    done.add('expected-foaling');
  });
  setHandler(coverDateCorrectedSignal, ({ anchorDate, anchor }) => {
    wake();
    if (isActiveStatus(status)) plan = { ...plan, anchorDate, anchor };
  });
  setHandler(remindersChangedSignal, ({ leadDays, options }) => {
    wake();
    if (!isActiveStatus(status)) return;
    plan = { ...plan, ...(leadDays !== undefined ? { leadDays } : {}), ...(options ? { options: { ...plan.options, ...options } } : {}) };
  });
  setHandler(timelineQuery, () => {
    const ms = milestones();
    return {
      gestationId: input.gestationId,
      status,
      anchorDate: plan.anchorDate,
      anchor: plan.anchor,
      leadDays: plan.leadDays,
      expectedFoalingDate: expectedFoalingDate(plan),
      milestones: buildTimeline(ms, { ...factsAt(ms, Date.now()), ended: !isActiveStatus(status) }),
    };
  });
  setHandler(nextReminderQuery, () => {
    if (!isActiveStatus(status)) return null;
    const ms = milestones();
    const now = Date.now();
    const next = ms.find((m) => isOpen(m) && reminderDecision(m, now, ms) !== 'missed');
    return next ? { id: next.id, title: next.title, dueDate: next.dueDate, reminderDate: next.reminderDate, reminderAt: next.reminderAt } : null;
  });

  // The gestation was read since the last wake-up (a timer wake plans from the previous read).
  let fresh = false;
  const apply = (snapshot: FoundGestationSnapshot) => {
    fresh = true;
    status = snapshot.status;
    plan = snapshot.plan;
    done = new Set(snapshot.done);
    sent = { ...sent, ...snapshot.sent };
    twinsChecks = snapshot.twinsChecks;
  };
  for (;;) {
    while (needsLoad) {
      needsLoad = false; // a signal during the read asks for another one
      fresh = true;
      const snapshot = await loadGestation({ gestationId: input.gestationId });
      if (!snapshot.found) {
        gone = true;
        break;
      }
      apply(snapshot);
    }
    if (gone) {
      log.info('gestation not in the database (deleted, or its creation rolled back): tracking ends', { gestationId: input.gestationId });
      break;
    }
    if (!isActiveStatus(status)) break;

    // Twins alerts go out as soon as a twins check is recorded (once per check).
    const alert = twinsChecks.find((c) => !alerted.has(c.checkId));
    if (alert) {
      try {
        await sendGestationAlert({ gestationId: input.gestationId, userId: input.userId, kind: 'twins', checkId: alert.checkId, date: alert.date });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        // Only when no channel can ever work (no in-app and a bounced address): nothing more to try.
        log.warn('twins alert failed for good', { gestationId: input.gestationId, checkId: alert.checkId, error: err.message });
      }
      alerted.add(alert.checkId);
      continue;
    }

    // The first reminder that has come due, then read again (the plan may have changed meanwhile).
    const now = Date.now();
    const ms = milestones();
    const due = ms.find((m) => isOpen(m) && reminderDecision(m, now, ms) === 'send');
    if (due) {
      const deadline = reminderDeadline(due, ms);
      try {
        const result = await reminderSender(deadline)({
          gestationId: input.gestationId,
          userId: input.userId,
          milestone: { id: due.id, title: due.title, description: due.description, kind: due.kind, dueDate: due.dueDate },
          deadline,
          plannedAt: new Date(now).toISOString(),
        });
        if (result.outcome === 'sent' || result.outcome === 'already-sent') {
          sent[due.id] = result.sentAt;
          sentThisRun += 1;
        } else if (result.outcome === 'gone') {
          gone = true;
        }
        if (result.outcome !== 'gone' && result.snapshot) {
          // The send read the database after it ran ('ended' / 'replanned' say why in it): plan
          // from that read, no second activity and workflow task before sleeping again. A signal
          // during the send has set needsLoad and still gets its own read.
          apply(result.snapshot);
          continue;
        }
        // A send result without a snapshot (written before sends returned one): the re-read below.
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        failed[due.id] = due.dueDate;
        log.warn('gestation reminder failed', { gestationId: input.gestationId, milestone: due.id, error: err.message });
      }
      needsLoad = !gone;
      continue;
    }

    // Woken by the timer and the last read plans nothing now (the weekly re-read, or a plan
    // that moved without a signal reaching us): read again before sleeping.
    if (!fresh) {
      needsLoad = true;
      continue;
    }

    // Nothing due: a natural boundary to start a fresh history (the new run re-reads first).
    if (workflowInfo().continueAsNewSuggested || (!!input.continueAsNewAfter && sentThisRun >= input.continueAsNewAfter)) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof gestationTracking>({
        ...input,
        ...plan,
        status,
        carried: { sent, failed, alerted: [...alerted] },
      });
    }

    // Sleep until the next reminder (or a week at most: past the last overdue alert, waits for the foaling or a loss).
    const next = ms.find((m) => isOpen(m) && reminderDecision(m, now, ms) === 'wait');
    const sleepMs = next ? Math.min(RESYNC_MS, Math.max(1, Date.parse(next.reminderAt) - now)) : RESYNC_MS;
    // Woken by a signal: needsLoad is set, read again first. Woken by the timer: send what the
    // last read planned for now straight away — the send re-checks the database (status,
    // checks done, due date, lead time, already sent) and answers 'replanned' or 'ended'
    // instead of sending a stale reminder — and plan from the snapshot the send returns. A
    // wake-up is then two workflow tasks and one activity (timer fired → send → sleep), as a
    // raw timer workflow's: bench/gestation-workflows.ts.
    await condition(() => needsLoad, sleepMs);
    fresh = false;
  }

  await condition(allHandlersFinished);
  const ms = milestones();
  const facts = factsAt(ms, Date.now());
  log.info('gestation tracking ended', { gestationId: input.gestationId, status, gone, today: dateOf(Date.now()) });
  const inPlan = new Set(ms.map((m) => m.id));
  return {
    status,
    ...(gone ? { gone: true } : {}),
    sent: [...ms.filter((m) => sent[m.id]).map((m) => m.id), ...Object.keys(sent).filter((id) => !inPlan.has(id))],
    missed: facts.missed,
    failed: facts.failed,
  };
}
