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
import type { BreedingActivities } from '../../activities/breeding';
import {
  buildTimeline,
  CHECK_MILESTONE,
  dateOf,
  expectedFoalingDate,
  gestationMilestones,
  isActiveStatus,
  reminderDecision,
  statusAfterCheck,
  type Milestone,
  type PregnancyStatus,
} from '../../domain/gestation';
import {
  checkRecordedSignal,
  coverDateCorrectedSignal,
  foaledSignal,
  nextReminderQuery,
  pregnancyLostSignal,
  remindersChangedSignal,
  timelineQuery,
  type CheckRecorded,
  type GestationInput,
  type GestationResult,
} from './messages';

// Few attempts for reminders, to avoid spamming if a provider misbehaves; each send is keyed anyway.
const { sendGestationReminder, sendGestationAlert } = proxyActivities<BreedingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '5 seconds', maximumAttempts: 5 },
});
const { recordGestationStatus } = proxyActivities<BreedingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 20 },
});

/**
 * Tracks one pregnancy for ~11 months: sleeps until each milestone's reminder, sends it
 * once (email + in-app, keyed by pregnancy + milestone), and reacts to signals — a check
 * result, a loss, the foaling, a corrected cover date, changed preferences — which wake
 * the sleep and re-plan without losing what was already sent. A reminder whose milestone
 * day has already passed (pregnancy registered late, date corrected backwards, worker
 * down for days) is marked "missed" rather than sent late. The overdue alerts are
 * milestones too, sent on their day only while no foaling is recorded.
 */
export async function gestationTracking(input: GestationInput): Promise<GestationResult> {
  const plan = {
    anchorDate: input.anchorDate,
    anchor: input.anchor,
    leadDays: input.leadDays,
    options: { ...input.options },
    previousGestationDays: [...input.previousGestationDays],
  };
  let status: PregnancyStatus = input.status ?? 'tracking';
  let persistedStatus = status;
  let outcomeDate: string | null = null;
  const sent: Record<string, string> = { ...input.carried?.sent };
  const done = new Set(input.carried?.done ?? []);
  const missed = new Set(input.carried?.missed ?? []);
  const failed = new Set(input.carried?.failed ?? []);
  const alerts: CheckRecorded[] = [];
  let planChanged = false;

  const milestones = (): Milestone[] => gestationMilestones(plan);
  const isUpcoming = (m: Milestone) => !sent[m.id] && !done.has(m.id) && !missed.has(m.id) && !failed.has(m.id);
  const wake = () => {
    planChanged = true;
  };

  setHandler(checkRecordedSignal, (check) => {
    if (!isActiveStatus(status)) return;
    status = statusAfterCheck(status, check.result);
    const milestone = CHECK_MILESTONE[check.kind];
    if (milestone && check.result !== 'negative') done.add(milestone);
    if (check.result === 'twins') alerts.push(check);
    if (check.result === 'negative') outcomeDate = check.date;
    wake();
  });
  setHandler(pregnancyLostSignal, ({ date }) => {
    if (!isActiveStatus(status)) return;
    status = 'lost';
    outcomeDate = date;
    wake();
  });
  setHandler(foaledSignal, ({ date }) => {
    if (!isActiveStatus(status)) return;
    status = 'foaled';
    outcomeDate = date;
    done.add('expected-foaling');
    wake();
  });
  setHandler(coverDateCorrectedSignal, ({ anchorDate, anchor }) => {
    if (!isActiveStatus(status)) return;
    plan.anchorDate = anchorDate;
    plan.anchor = anchor;
    wake();
  });
  setHandler(remindersChangedSignal, ({ leadDays, options }) => {
    if (!isActiveStatus(status)) return;
    if (leadDays !== undefined) plan.leadDays = leadDays;
    if (options) plan.options = { ...plan.options, ...options };
    wake();
  });
  setHandler(timelineQuery, () => ({
    pregnancyId: input.pregnancyId,
    status,
    anchorDate: plan.anchorDate,
    anchor: plan.anchor,
    leadDays: plan.leadDays,
    expectedFoalingDate: expectedFoalingDate(plan),
    milestones: buildTimeline(milestones(), { sent, done: [...done], missed: [...missed], failed: [...failed], ended: !isActiveStatus(status) }),
  }));
  setHandler(nextReminderQuery, () => {
    if (!isActiveStatus(status)) return null;
    const next = milestones().find(isUpcoming);
    return next ? { id: next.id, title: next.title, dueDate: next.dueDate, reminderDate: next.reminderDate, reminderAt: next.reminderAt } : null;
  });

  for (;;) {
    // Alerts (twins) go out as soon as they are recorded.
    while (alerts.length) {
      const check = alerts.shift()!;
      try {
        await sendGestationAlert({ pregnancyId: input.pregnancyId, userId: input.userId, kind: 'twins', checkId: check.checkId, date: check.date });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn('twins alert failed', { pregnancyId: input.pregnancyId, error: err.message });
      }
    }
    if (status !== persistedStatus) {
      const reached = status;
      await recordGestationStatus({ pregnancyId: input.pregnancyId, status: reached, outcomeDate });
      persistedStatus = reached;
      continue; // a signal may have arrived meanwhile
    }
    if (!isActiveStatus(status)) break;

    // Handle the first reminder that has come due, then look again (signals may have changed the plan).
    const now = Date.now();
    let acted = false;
    for (const m of milestones()) {
      if (!isUpcoming(m)) continue;
      const decision = reminderDecision(m, now);
      if (decision === 'wait') break;
      if (decision === 'missed') {
        missed.add(m.id);
        continue;
      }
      acted = true;
      try {
        const result = await sendGestationReminder({
          pregnancyId: input.pregnancyId,
          userId: input.userId,
          milestone: { id: m.id, title: m.title, description: m.description, kind: m.kind, dueDate: m.dueDate },
        });
        if (result.outcome === 'ended') {
          // The API ended it in the database; its signal is on the way. The database is the truth.
          if (isActiveStatus(status)) status = result.status;
          persistedStatus = result.status;
        } else {
          sent[m.id] = result.sentAt;
        }
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        failed.add(m.id);
        log.warn('gestation reminder failed', { pregnancyId: input.pregnancyId, milestone: m.id, error: err.message });
      }
      break;
    }
    if (acted) continue;

    const next = milestones().find(isUpcoming);
    planChanged = false;
    if (next) await condition(() => planChanged, Math.max(1, Date.parse(next.reminderAt) - Date.now()));
    else await condition(() => planChanged); // past day 390: wait for the foaling (or a loss) to be recorded

    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (!planChanged && !alerts.length && status === persistedStatus) {
        await continueAsNew<typeof gestationTracking>({
          ...input,
          ...plan,
          status,
          carried: { sent, done: [...done], missed: [...missed], failed: [...failed] },
        });
      }
    }
  }

  await condition(allHandlersFinished);
  log.info('gestation tracking ended', { pregnancyId: input.pregnancyId, status, today: dateOf(Date.now()) });
  return { status, sent: Object.keys(sent), missed: [...missed], failed: [...failed] };
}
