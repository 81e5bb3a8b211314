/**
 * Capacity on paper: how many API replicas, workers per queue and how much Temporal and
 * PostgreSQL serve the product's target size, computed from the per-unit figures a bench run
 * measured (bench/results/*.json), not typed by hand. `npm run bench` prints it under the
 * table; `npm run bench -- --capacity a.json [b.json ...]` prints it from saved runs (later
 * files win for a row measured twice). README "Running in production" quotes it.
 *
 * The per-unit figures are CPU time of one process on a shared 2-core machine, so they are
 * upper estimates of what one core does elsewhere; the targets' traffic shape (what a peak is)
 * is an assumption, written in TARGETS so it can be argued with.
 */
import type { BenchResult } from './report';

export interface CapacityTargets {
  horses: number;
  /** Peak authenticated reads per horse per minute (apps open on a horse's page, polling it). */
  readsPerHorsePerMinute: number;
  analysesPerHour: number;
  remindersPerDay: number;
  /** Worst case: every reminder of a day due the same morning, spread over REMINDER_WINDOW_MINUTES. */
  reminderWindowMinutes: number;
  /** Stripe's peak (renewals are batched at the billing anchor): events per second. */
  webhookEventsPerSecond: number;
  /** Wall time of one analysis's AI calls (Claude with frames; the fallback doubles it): an activity slot each. */
  aiSecondsPerAnalysis: number;
  /** Plan cores at this share of a core, leaving headroom for bursts and a lost replica. */
  coreUtilisation: number;
  /** vCPU per replica in k8s/base. */
  vcpuPerReplica: number;
  /** Fewest replicas of anything that serves users (one may be down for a rollout). */
  minReplicas: number;
  /** DATABASE_POOL_MAX default (config/index.ts). */
  databasePoolMax: number;
}

export const TARGETS: CapacityTargets = {
  horses: 100_000,
  readsPerHorsePerMinute: 1,
  analysesPerHour: 1_000,
  remindersPerDay: 10_000,
  reminderWindowMinutes: 30,
  webhookEventsPerSecond: 20,
  aiSecondsPerAnalysis: 40,
  coreUtilisation: 0.6,
  vcpuPerReplica: 2,
  minReplicas: 2,
  databasePoolMax: 10,
};

/** Temporal history events per unit of work, counted from committed histories (test/replay/histories). */
export interface HistoryCounts {
  /** Events of one analyzeVideo run, start to completion. */
  perAnalysis: number;
  /** Events a reminder wake-up adds (timer → send → sleep again). */
  perReminder: number;
}

export interface CapacityRow {
  what: string;
  measured: string;
  load: string;
  needs: string;
}

const find = (results: BenchResult[], prefix: string) => results.find((r) => r.name.startsWith(prefix));
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
/** extra.<path> as a number, when the bench recorded it. */
function extraNumber(r: BenchResult | undefined, ...path: string[]): number | undefined {
  let v: unknown = r?.extra;
  for (const p of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return num(v);
}
const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

/** Replicas of `vcpuPerReplica` for `cores` of work at the planned utilisation, never fewer than minReplicas. */
export function replicasFor(cores: number, t: CapacityTargets): number {
  return Math.max(t.minReplicas, Math.ceil(cores / t.coreUtilisation / t.vcpuPerReplica));
}

/** The rows; a figure the run did not measure says so instead of being guessed. */
export function capacityRows(results: BenchResult[], history: HistoryCounts, t: CapacityTargets = TARGETS): CapacityRow[] {
  const rows: CapacityRow[] = [];
  const notMeasured = (what: string, bench: string): CapacityRow => ({ what, measured: `not in this run (\`--only=${bench}\`)`, load: '-', needs: '-' });

  // API: reads dominate; starts and webhooks add their share on the same replicas.
  const readsPerSecond = (t.horses * t.readsPerHorsePerMinute) / 60;
  const startsPerSecond = t.analysesPerHour / 3600;
  const readMs = extraNumber(find(results, 'GET /api/horses/:id (JWT) throughput'), 'ours', 'cpuMsPerRequest');
  const startMs = extraNumber(find(results, 'POST /api/analyses → workflow started, throughput'), 'apiCpuMsPerStart');
  const webhookMs = extraNumber(find(results, 'Stripe webhook → signalWithStart, throughput'), 'apiCpuMsPerEvent');
  let apiCores = 0;
  if (readMs === undefined) rows.push(notMeasured('authenticated read (GET /api/horses/:id)', 'api'));
  else {
    const cores = (readsPerSecond * readMs) / 1000;
    apiCores += cores;
    rows.push({
      what: 'authenticated read (GET /api/horses/:id)',
      measured: `${fmt(readMs, 2)} ms API CPU per request (~${fmt(1000 / readMs, 0)} req/s per core)`,
      load: `${fmt(t.horses, 0)} horses × ${t.readsPerHorsePerMinute}/min at peak = ${fmt(readsPerSecond, 0)} req/s`,
      needs: `${fmt(cores, 2)} cores`,
    });
  }
  if (startMs === undefined) rows.push(notMeasured('analysis start (POST /api/analyses)', 'analyses'));
  else {
    const cores = (startsPerSecond * startMs) / 1000;
    apiCores += cores;
    rows.push({
      what: 'analysis start (POST /api/analyses)',
      measured: `${fmt(startMs, 2)} ms API CPU per start`,
      load: `${fmt(t.analysesPerHour, 0)}/hour = ${fmt(startsPerSecond, 2)} starts/s`,
      needs: `${fmt(cores, 3)} cores`,
    });
  }
  if (webhookMs === undefined) rows.push(notMeasured('Stripe webhook → signalWithStart', 'webhook'));
  else {
    const cores = (t.webhookEventsPerSecond * webhookMs) / 1000;
    apiCores += cores;
    rows.push({
      what: 'Stripe webhook → signalWithStart',
      measured: `${fmt(webhookMs, 2)} ms API CPU per event`,
      load: `${t.webhookEventsPerSecond} events/s at a renewal peak`,
      needs: `${fmt(cores, 3)} cores`,
    });
  }
  const apiReplicas = replicasFor(apiCores, t);
  if (readMs !== undefined) {
    rows.push({
      what: '**API replicas**',
      measured: 'sum of the rows above',
      load: `${fmt(apiCores, 2)} cores at ${t.coreUtilisation * 100} % utilisation`,
      needs: `**${apiReplicas} × ${t.vcpuPerReplica} vCPU** (HPA on CPU above that)`,
    });
  }

  // Analysis workers: ffmpeg is CPU, the AI calls are waiting (activity slots, not cores).
  const frames60 = extraNumber(find(results, 'frames: 12 from a 60 s'), 'cpuSeconds');
  const frames600 = extraNumber(find(results, 'frames: 12 from a 10 min'), 'cpuSeconds');
  let analysisReplicas: number | undefined;
  if (frames60 === undefined || frames600 === undefined) rows.push(notMeasured('frame extraction (analysis worker)', 'frames'));
  else {
    const cores = (t.analysesPerHour * Math.max(frames60, frames600)) / 3600;
    const aiSlots = Math.ceil((t.analysesPerHour * t.aiSecondsPerAnalysis) / 3600);
    analysisReplicas = replicasFor(cores, t);
    rows.push({
      what: 'frame extraction + AI calls (`analysis` workers)',
      measured: `${fmt(frames60, 2)} CPU s per 60 s clip, ${fmt(frames600, 2)} per 10-minute clip; AI ~${t.aiSecondsPerAnalysis} s wall per analysis (assumed)`,
      load: `${fmt(t.analysesPerHour, 0)}/hour, every clip 10 minutes long`,
      needs: `${fmt(cores, 2)} cores → **${analysisReplicas} × ${t.vcpuPerReplica} vCPU**; ${aiSlots} AI calls in flight (activity slots)`,
    });
  }

  // Reminders: the morning burst, spread over the window.
  const peakReminders = t.remindersPerDay / (Math.max(1, t.reminderWindowMinutes) * 60);
  const health = find(results, 'health reminders');
  const workerMsPerReminder = extraNumber(health, 'workerCpuMsPerReminder');
  const healthRss = find(results, 'health worker RSS');
  const rssNote = healthRss ? `; ${fmt(healthRss.ours, 0)} MB RSS with ${fmt(extraNumber(healthRss, 'asleep') ?? NaN, 0)} asleep` : '';
  rows.push({
    what: 'reminders (`worker-timers`: gestation, health)',
    measured:
      workerMsPerReminder === undefined
        ? `worker CPU per reminder not in this run${rssNote}`
        : `${fmt(workerMsPerReminder, 1)} ms worker CPU per reminder sent${rssNote}`,
    load: `${fmt(t.remindersPerDay, 0)}/day, worst case all the same morning over a ${t.reminderWindowMinutes}-minute window = ${fmt(peakReminders, 1)}/s`,
    needs:
      workerMsPerReminder === undefined
        ? `${t.minReplicas} replicas (memory, not CPU, sizes them)`
        : `${fmt((peakReminders * workerMsPerReminder) / 1000, 2)} cores at the peak → **${replicasFor((peakReminders * workerMsPerReminder) / 1000, t)} replicas**`,
  });

  // Temporal: history events per second at the peak (Temporal Cloud bills actions, a
  // self-hosted cluster sizes its history shards and persistence by them).
  const eventsPerSecond = startsPerSecond * history.perAnalysis + peakReminders * history.perReminder;
  rows.push({
    what: 'Temporal (history events)',
    measured: `${history.perAnalysis} events per analysis, ${history.perReminder} per reminder wake-up (test/replay/histories)`,
    load: `analyses ${fmt(startsPerSecond * history.perAnalysis, 1)}/s + reminder peak ${fmt(peakReminders * history.perReminder, 1)}/s`,
    needs: `${fmt(eventsPerSecond, 0)} events/s at the peak: one small cluster (or a Temporal Cloud namespace at its default limits)`,
  });

  // PostgreSQL: connections are what a replica count multiplies.
  const workerReplicas = (analysisReplicas ?? t.minReplicas) + 3 * t.minReplicas;
  const connections = (apiReplicas + workerReplicas) * t.databasePoolMax;
  rows.push({
    what: 'PostgreSQL',
    measured: `DATABASE_POOL_MAX ${t.databasePoolMax} per process`,
    load: `${apiReplicas} API + ${workerReplicas} worker processes`,
    needs: `max_connections ≥ ${connections} (+ migrations, ops); 2 vCPU, the search index in memory`,
  });
  return rows;
}

export function formatCapacity(rows: CapacityRow[], t: CapacityTargets = TARGETS): string {
  const head = `Capacity for ${fmt(t.horses, 0)} horses, ${fmt(t.analysesPerHour, 0)} analyses an hour and ${fmt(t.remindersPerDay, 0)} reminders a day (bench/lib/capacity.ts TARGETS):`;
  return [head, '', '| what | measured | load at the target | needs |', '|---|---|---|---|', ...rows.map((r) => `| ${r.what} | ${r.measured} | ${r.load} | ${r.needs} |`)].join('\n');
}

interface HistoryFile {
  events: { eventType?: string; activityTaskScheduledEventAttributes?: { activityType?: { name?: string } } }[];
}

/**
 * Events per unit of work from a committed history: all of an analyzeVideo run; for
 * reminders, the median wake-up that sent one (from a TIMER_FIRED through the next
 * TIMER_STARTED, i.e. until the workflow sleeps again).
 */
export function historyCounts(analysis: HistoryFile, reminders: HistoryFile, sendActivity = 'sendHealthReminder'): HistoryCounts {
  const ev = reminders.events;
  const wakes: number[] = [];
  ev.forEach((e, i) => {
    if (e.eventType !== 'EVENT_TYPE_TIMER_FIRED') return;
    const end = ev.findIndex((x, j) => j > i && x.eventType === 'EVENT_TYPE_TIMER_STARTED');
    if (end < 0) return;
    const sends = ev.slice(i, end).some((x) => x.activityTaskScheduledEventAttributes?.activityType?.name === sendActivity);
    if (sends) wakes.push(end - i + 1);
  });
  wakes.sort((a, b) => a - b);
  return { perAnalysis: analysis.events.length, perReminder: wakes[Math.floor(wakes.length / 2)] ?? NaN };
}
