/**
 * Where a late reminder's time went: reads the histories of the workflows that fell due at
 * `dueAt` and times every event from the timer that woke them to the start of their send
 * activity, against `dueAt` (server-side timestamps). Workflows whose wake-up took the same
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

export interface WakeProfile {
  lines: string[];
  paths: { signature: string; count: number; steps: { step: string; p50: number; p99: number }[] }[];
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
  dueAt: number,
  sendActivity: string,
  dump?: { file: string; keepLatest: number },
): Promise<WakeProfile> {
  const histories = new Map<string, HistoryEvent[]>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      for (let i = next++; i < workflowIds.length; i = next++) {
        const h = await client.workflow.getHandle(workflowIds[i]).fetchHistory();
        histories.set(workflowIds[i], h.events ?? []);
      }
    }),
  );
  const bySignature = new Map<string, WakePath[]>();
  const ends: { id: string; end: number }[] = [];
  for (const [id, events] of histories) {
    const p = wakePath(events, dueAt, sendActivity);
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
  const lines = [`${label}: wake-up paths of ${ends.length}/${workflowIds.length} (server event time - due instant, ms, p50/p99)`];
  for (const p of paths) {
    lines.push(`  ${p.count}x: ${p.steps.map((s) => `${s.step} ${s.p50}/${s.p99}`).join(' > ')}`);
  }
  if (dump) {
    const latest = ends.sort((a, b) => b.end - a.end).slice(0, dump.keepLatest);
    writeFileSync(dump.file, JSON.stringify(latest.map(({ id, end }) => ({ id, sendStartedMsLate: end, events: histories.get(id) })), null, 1));
    lines.push(`  histories of the ${latest.length} latest in ${dump.file}`);
  }
  return { lines, paths };
}
