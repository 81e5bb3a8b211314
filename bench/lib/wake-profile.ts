/**
 * Where a late reminder's time went: reads the histories of the workflows that fell due at
 * `dueAt` (one instant, or each workflow's own when reminders are spread over a window) and
 * times every event from the timer that woke them to the start of their send activity,
 * against it (server-side timestamps). Workflows whose wake-up took the same
 * path (the same event types in the same order) are grouped, and each step is reported as
 * p50 / p99 of its offset from `dueAt`: a late p99 shows which step it is late at (the timer
 * itself, a workflow task waiting for a poller, an activity round trip, a replay of an
 * evicted workflow, a sticky-queue timeout).
 */
import { writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { percentile } from './report';

type HistoryEvent = NonNullable<History['events']>[number];

/**
 * A history event's time in ms. Written here, not imported from @temporalio/common/lib/time:
 * the sleeping benches compile their worker child with esbuild, and a deep import without its
 * `.js` does not resolve under Node's ESM loader (it only did under tsx).
 */
function tsToMs(t: HistoryEvent['eventTime']): number {
  const seconds = t?.seconds ?? 0;
  return (typeof seconds === 'number' ? seconds : seconds.toNumber()) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
}

/** `timerFired`, `workflowTaskStarted`...: the name of the event's attributes field. */
const eventName = (e: HistoryEvent) =>
  Object.keys(e)
    .find((k) => k.endsWith('EventAttributes') && e[k as keyof HistoryEvent] != null)
    ?.replace(/EventAttributes$/, '') ?? `event${String(e.eventType)}`;

interface WakePath {
  /** Event names from the TimerFired to the send's ActivityTaskStarted. */
  steps: string[];
  /** Each step's server time minus dueAt (ms). */
  offsets: number[];
}

/** The events of one workflow's wake-up at `dueAt`, or null when it has none (not fired yet). */
function wakePath(events: HistoryEvent[], dueAt: number, sendActivity: string): WakePath | null {
  // The timer that woke it for the reminder: the first one fired after dueAt (minus clock slack).
  const from = events.findIndex((e) => e.timerFiredEventAttributes && tsToMs(e.eventTime) >= dueAt - 1000);
  if (from < 0) return null;
  const sendScheduled = new Set<number>();
  const steps: string[] = [];
  const offsets: number[] = [];
  for (const e of events.slice(from)) {
    const name = e.activityTaskScheduledEventAttributes
      ? `activityTaskScheduled(${e.activityTaskScheduledEventAttributes.activityType?.name})`
      : e.activityTaskStartedEventAttributes
        ? `activityTaskStarted(attempt ${e.activityTaskStartedEventAttributes.attempt})`
        : eventName(e);
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === sendActivity) sendScheduled.add(Number(e.eventId));
    // Markers (local activities) name what they recorded.
    steps.push(e.markerRecordedEventAttributes ? `markerRecorded(${e.markerRecordedEventAttributes.markerName})` : name);
    offsets.push(tsToMs(e.eventTime) - dueAt);
    if (e.activityTaskStartedEventAttributes && sendScheduled.has(Number(e.activityTaskStartedEventAttributes.scheduledEventId))) return { steps, offsets };
  }
  return { steps, offsets };
}

/**
 * The whole wake-up at `dueAt`, past the send: from the timer that woke the workflow to the
 * next timer it starts (its next sleep), its completion or its continue-as-new. What a wake
 * costs the worker: how many workflow tasks and activities it took, and the time the worker
 * held its workflow tasks (each task's started → completed, summed; with a small cache most
 * of it is replaying the history of an evicted workflow).
 */
interface WholeWake {
  workflowTasks: number;
  activities: number;
  /** Σ workflowTaskCompleted - workflowTaskStarted (ms). */
  taskMs: number;
  /** The next timer started (or the run's end) minus dueAt (ms). */
  asleepAt: number;
}

function wholeWake(events: HistoryEvent[], dueAt: number): WholeWake | null {
  const from = events.findIndex((e) => e.timerFiredEventAttributes && tsToMs(e.eventTime) >= dueAt - 1000);
  if (from < 0) return null;
  const startedAt = new Map<number, number>();
  const wake: WholeWake = { workflowTasks: 0, activities: 0, taskMs: 0, asleepAt: NaN };
  for (const e of events.slice(from + 1)) {
    const t = tsToMs(e.eventTime);
    if (e.workflowTaskStartedEventAttributes) {
      wake.workflowTasks += 1;
      startedAt.set(Number(e.eventId), t);
    }
    const completed = e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes;
    if (completed?.startedEventId != null && startedAt.has(Number(completed.startedEventId))) wake.taskMs += t - startedAt.get(Number(completed.startedEventId))!;
    if (e.activityTaskScheduledEventAttributes) wake.activities += 1;
    if (e.timerStartedEventAttributes || e.workflowExecutionCompletedEventAttributes || e.workflowExecutionContinuedAsNewEventAttributes) {
      wake.asleepAt = t - dueAt;
      return wake;
    }
  }
  return null;
}

export interface WakeProfile {
  lines: string[];
  paths: { signature: string; count: number; steps: { step: string; p50: number; p99: number }[] }[];
  /** The whole wake-ups (to the next sleep), p50 / p99 / max of each figure over the workflows. */
  whole: { n: number } & Record<keyof WholeWake, { p50: number; p99: number; max: number }>;
}

/**
 * Profiles the wake-ups of `workflowIds` at `dueAt`; writes the full histories of the
 * `keepLatest` latest ones (by the send's start) to `dumpFile` as JSON for `temporal
 * workflow show`-style reading.
 */
export async function wakeProfile(
  client: Client,
  label: string,
  workflowIds: string[],
  dueAt: number | ((workflowId: string) => number),
  sendActivity: string,
  dump?: { file: string; keepLatest: number },
): Promise<WakeProfile> {
  // One instant for all, or each workflow's own (reminders spread over a window).
  const dueOf = typeof dueAt === 'function' ? dueAt : () => dueAt;
  const histories = new Map<string, HistoryEvent[]>();
  // Called as soon as every send has started: the rest of the wake-ups (the tasks after the
  // send, up to the next sleep) may still be running, so fetch again those not asleep yet.
  const giveUpAt = Date.now() + 120_000;
  for (let pending = workflowIds; pending.length; ) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = next++; i < pending.length; i = next++) {
          const h = await client.workflow.getHandle(pending[i]).fetchHistory();
          histories.set(pending[i], h.events ?? []);
        }
      }),
    );
    pending = pending.filter((id) => !wholeWake(histories.get(id)!, dueOf(id)));
    if (!pending.length || Date.now() > giveUpAt) break;
    await new Promise((r) => setTimeout(r, 2000));
  }
  const bySignature = new Map<string, WakePath[]>();
  const ends: { id: string; end: number }[] = [];
  const wholes: WholeWake[] = [];
  for (const [id, events] of histories) {
    const w = wholeWake(events, dueOf(id));
    if (w) wholes.push(w);
    const p = wakePath(events, dueOf(id), sendActivity);
    if (!p) continue;
    const signature = p.steps.join(' > ');
    bySignature.set(signature, [...(bySignature.get(signature) ?? []), p]);
    ends.push({ id, end: p.offsets[p.offsets.length - 1] });
  }
  const paths = [...bySignature.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([signature, ps]) => ({
      signature,
      count: ps.length,
      steps: ps[0].steps.map((step, i) => {
        const at = ps.map((p) => p.offsets[i]).sort((a, b) => a - b);
        return { step, p50: percentile(at, 50), p99: percentile(at, 99) };
      }),
    }));
  const stat = (key: keyof WholeWake) => {
    const v = wholes.map((w) => w[key]).sort((a, b) => a - b);
    return { p50: percentile(v, 50), p99: percentile(v, 99), max: v[v.length - 1] ?? NaN };
  };
  const whole = { n: wholes.length, workflowTasks: stat('workflowTasks'), activities: stat('activities'), taskMs: stat('taskMs'), asleepAt: stat('asleepAt') };
  const fmt = (x: { p50: number; p99: number; max: number }) => `${x.p50}/${x.p99}/${x.max}`;
  const lines = [`${label}: wake-up paths of ${ends.length}/${workflowIds.length} (server event time - due instant, ms, p50/p99)`];
  for (const p of paths) {
    lines.push(`  ${p.count}x: ${p.steps.map((s) => `${s.step} ${s.p50}/${s.p99}`).join(' > ')}`);
  }
  lines.push(
    `  whole wake-up of ${whole.n} (timer fired → next timer started, p50/p99/max): workflow tasks ${fmt(whole.workflowTasks)}, activities ${fmt(whole.activities)}, ` +
      `worker time in workflow tasks (Σ started → completed) ${fmt(whole.taskMs)} ms, asleep again at ${fmt(whole.asleepAt)} ms after the due instant`,
  );
  if (dump) {
    const latest = ends.sort((a, b) => b.end - a.end).slice(0, dump.keepLatest);
    writeFileSync(dump.file, JSON.stringify(latest.map(({ id, end }) => ({ id, sendStartedMsLate: end, events: histories.get(id) })), null, 1));
    lines.push(`  histories of the ${latest.length} latest in ${dump.file}`);
  }
  return { lines, paths, whole };
}
