/**
 * Shared harness of the sleeping-workflow benches (bench/health-workflows.ts,
 * bench/gestation-workflows.ts). One run, one Temporal dev server (the one the dev stack
 * and the tests start, scripts/lib/temporal.ts), and the worker in a child process of its
 * own so its RSS is the worker's alone (the client starting thousands of workflows lives
 * in the parent):
 *
 * 1. memory: the worker's RSS idle (baseline), then with N workflows started and asleep.
 *    The worker is built from `queueWorkerOptions` (workers/run.ts): the queue's bundle,
 *    workflow cache and WORKER_TUNING exactly as `npm run start:worker` runs them.
 * 2. lateness: M more workflows whose reminder falls due at the same minute T
 *    (REMINDER_TIME_UTC = T's HH:MM, passed through the config schema that validates the
 *    real setting), then how late each send starts after T. Baseline: M raw Temporal
 *    timer workflows (sleep until an instant, call one activity, nothing else) on a worker
 *    with the same cache settings, against the same server, in the same run.
 *
 * Activities are stand-ins in the worker child: the database read returns a fixed snapshot
 * (the bench measures the worker and Temporal, not Postgres), the send records when it ran.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { startTemporalDevServer } from '../../scripts/lib/temporal';
import { configSchema, loadConfig } from '../../config';
import { OWN_BUNDLE_PATHS, queueWorkerOptions, workflowsPath } from '../../workers/run';
import type { TaskQueue } from '../../workflows/queues';
import { benchMode, percentile, reportBench } from './report';

export interface SleepingBenchSpec {
  /** Feature word, used in the printed lines. */
  feature: string;
  queue: TaskQueue;
  workflowType: string;
  workflowId(key: string): string;
  /** The workflow's arguments for one key (keys encode what the stand-in activities answer, see `dueKey`). */
  args(key: string): unknown[];
  /** The bench file (import.meta.url): the worker child re-runs it with --role=worker. */
  script: string;
  /** Stand-in activities for one worker child; `sent(key)` records a send's start. */
  activities(ctx: { sent(key: string): void }): Record<string, (...args: never[]) => Promise<unknown>>;
}

/** Keys: `<tag>-far-<i>` sleeps for weeks; `<tag>-due<HHMM>-<i>` has a reminder at HH:MM UTC today. */
export const dueKey = (tag: string, hhmm: string, i: number) => `${tag}-due${hhmm.replace(':', '')}-${i}`;
/** The reminder time a key asks for (validated like the real REMINDER_TIME_UTC), or null for a far one. */
export function dueTimeOf(key: string): string | null {
  const m = /-due(\d\d)(\d\d)-/.exec(key);
  return m ? configSchema.shape.REMINDER_TIME_UTC.parse(`${m[1]}:${m[2]}`) : null;
}

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 1024 / 1024;

type ToWorker = { type: 'memory' } | { type: 'sends' };
type FromWorker =
  | { type: 'ready'; maxCachedWorkflows: number; reuseV8Context: boolean; workflowThreadPoolSize: number }
  | { type: 'memory'; rss: number; heapUsed: number; external: number; cached: number; inFlight: number }
  | { type: 'sends'; sends: { key: string; at: number }[] };

// ------------------------------------------------------------------------------------------
// Worker child
// ------------------------------------------------------------------------------------------

async function workerChild(spec: SleepingBenchSpec, kind: 'ours' | 'raw'): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = flag('address')!;
  const connection = await NativeConnection.connect({ address });
  const sends: { key: string; at: number }[] = [];
  const sent = (key: string) => sends.push({ key, at: Date.now() });
  // The production options of the queue (cache, WORKER_TUNING from this environment), with
  // the bundle prebuilt by the parent as `npm run build` prebuilds it for the compiled worker.
  const production = await queueWorkerOptions(spec.queue, { tuning: loadConfig(process.env).WORKER_TUNING, queueBundle: { codePath: flag('bundle')! } });
  const worker = await Worker.create({
    connection,
    ...production,
    ...(kind === 'raw'
      ? { taskQueue: `${spec.queue}-raw-timer`, activities: { rawTimerFired: async (key: string) => sent(key) } }
      : { taskQueue: spec.queue, activities: spec.activities({ sent }) }),
  });
  const run = worker.run();
  const send = (m: FromWorker) => process.send!(m);
  process.on('message', (m: ToWorker | 'stop') => {
    if (m === 'stop') {
      worker.shutdown();
      return;
    }
    if (m.type === 'memory') {
      (globalThis as { gc?: () => void }).gc?.();
      const u = process.memoryUsage();
      const s = worker.getStatus();
      send({ type: 'memory', rss: u.rss, heapUsed: u.heapUsed, external: u.external, cached: s.numCachedWorkflows, inFlight: s.numInFlightWorkflowActivations });
    } else if (m.type === 'sends') send({ type: 'sends', sends });
  });
  send({ type: 'ready', maxCachedWorkflows: worker.options.maxCachedWorkflows, reuseV8Context: worker.options.reuseV8Context, workflowThreadPoolSize: worker.options.workflowThreadPoolSize });
  await run;
  await connection.close();
  process.exit(0);
}

// ------------------------------------------------------------------------------------------
// Parent: server, client, measurements
// ------------------------------------------------------------------------------------------

class WorkerProcess {
  private waiting: ((m: FromWorker) => void)[] = [];
  readonly ready: Promise<Extract<FromWorker, { type: 'ready' }>>;
  private constructor(private child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m as Extract<FromWorker, { type: 'ready' }>));
      child.once('exit', (code) => reject(new Error(`worker child exited with ${code} before it was ready`)));
    });
    child.on('message', (m) => this.waiting.shift()?.(m as FromWorker));
  }
  static start(spec: SleepingBenchSpec, kind: 'ours' | 'raw', address: string, bundle: string) {
    return new WorkerProcess(
      fork(fileURLToPath(spec.script), [`--role=${kind}`, `--address=${address}`, `--bundle=${bundle}`], { execArgv: ['--expose-gc', '--import', 'tsx'], env: process.env }),
    );
  }
  private ask<T extends FromWorker['type']>(m: ToWorker & { type: T }): Promise<Extract<FromWorker, { type: T }>> {
    return new Promise((resolve) => {
      this.waiting.push(resolve as (m: FromWorker) => void);
      this.child.send(m);
    });
  }
  memory = () => this.ask({ type: 'memory' });
  sends = () => this.ask({ type: 'sends' }).then((r) => r.sends);
  async stop() {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send('stop');
    await exited;
  }
}

/** Starts `keys` with `concurrency` clients in flight; starts/s. */
async function startAll(client: Client, keys: string[], start: (key: string) => Promise<unknown>, concurrency = 100): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, keys.length) }, async () => {
      for (let i = next++; i < keys.length; i = next++) await start(keys[i]);
    }),
  );
  return keys.length / ((performance.now() - t0) / 1000);
}

/** Until the server has no pending first workflow task for the last and some random started workflows, and the worker has nothing in flight. */
async function settle(client: Client, ids: string[], worker: WorkerProcess): Promise<number> {
  const t = performance.now();
  const sample = [...ids.slice(-20), ...Array.from({ length: 20 }, () => ids[Math.floor(Math.random() * ids.length)])];
  for (;;) {
    const pending = await Promise.all(sample.map((id) => client.workflow.getHandle(id).describe().then((d) => d.raw.pendingWorkflowTask != null)));
    if (!pending.some(Boolean) && (await worker.memory()).inFlight === 0) return (performance.now() - t) / 1000;
    await sleep(1000);
  }
}

async function sampledMemory(worker: WorkerProcess) {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await worker.memory());
    await sleep(1000);
  }
  return samples.reduce((a, b) => (b.rss > a.rss ? b : a));
}

/** The next whole minute at least `leadMs` from now. */
function nextMinute(leadMs: number): number {
  return Math.ceil((Date.now() + leadMs) / 60_000) * 60_000;
}
const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);

/** Waits until `worker` has recorded `expected` sends whose key matches, or gives up at `deadline`. */
async function collectSends(worker: WorkerProcess, match: (key: string) => boolean, expected: number, deadline: number) {
  for (;;) {
    const sends = (await worker.sends()).filter((s) => match(s.key));
    const firstPerKey = new Map<string, number>();
    for (const s of sends) if (!firstPerKey.has(s.key)) firstPerKey.set(s.key, s.at);
    if (firstPerKey.size >= expected || Date.now() > deadline) return { firstPerKey, total: sends.length };
    await sleep(500);
  }
}

function lateness(firstPerKey: Map<string, number>, dueAt: number) {
  const late = [...firstPerKey.values()].map((at) => at - dueAt).sort((a, b) => a - b);
  return { n: late.length, p50: percentile(late, 50), p99: percentile(late, 99), max: late[late.length - 1] ?? NaN, early: late.filter((l) => l < 0).length };
}

export interface SleepingBenchSizes {
  asleep: number;
  due: number;
}

export async function runSleepingBench(spec: SleepingBenchSpec, sizes: Record<'quick' | 'full', SleepingBenchSizes>): Promise<void> {
  const role = flag('role');
  if (role === 'ours' || role === 'raw') return workerChild(spec, role);

  const mode = benchMode();
  const asleep = Number(flag('asleep') ?? sizes[mode].asleep);
  const dueCount = Number(flag('due') ?? sizes[mode].due);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const logDir = mkdtempSync(join(tmpdir(), `${spec.feature}-bench-`));
  const server = await startTemporalDevServer({ logFile: join(logDir, 'temporal.log') });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const startOne = (key: string) =>
    client.workflow.start(spec.workflowType, { taskQueue: spec.queue, workflowId: spec.workflowId(key), args: spec.args(key), workflowIdConflictPolicy: 'FAIL' });
  // Workflow bundles prebuilt here, as `npm run build` prebuilds them (the compiled worker
  // loads a file; bundling with webpack inside the worker would add its own memory).
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  const prebuild = async (name: string, path: string) => {
    const file = join(logDir, `workflow-bundle-${name}.js`);
    writeFileSync(file, (await bundleWorkflowCode({ workflowsPath: path, logger: quiet })).code);
    return file;
  };
  const ourBundle = await prebuild(spec.queue, OWN_BUNDLE_PATHS[spec.queue] ?? workflowsPath);
  const rawBundle = await prebuild('raw-timer', fileURLToPath(new URL('../workflows/raw-timer.ts', import.meta.url)));
  const ours = WorkerProcess.start(spec, 'ours', server.address, ourBundle);
  let raw: WorkerProcess | undefined;
  try {
    const settings = await ours.ready;
    console.log(
      `${spec.feature} bench (${mode}): ${asleep} asleep, then ${dueCount} due in the same minute; worker as production runs the ${spec.queue} queue: ` +
        `maxCachedWorkflows ${settings.maxCachedWorkflows}, reuseV8Context ${settings.reuseV8Context}, ${settings.workflowThreadPoolSize} workflow thread(s) (logs in ${logDir})`,
    );
    await sleep(1000);
    const idle = (await sampledMemory(ours)).rss;
    console.log(`worker idle: rss ${mb(idle).toFixed(0)} MB`);

    // --- 1. memory with N asleep
    const tag = Date.now().toString(36);
    const farKeys = Array.from({ length: asleep }, (_, i) => `${tag}-far-${i}`);
    const startsPerSecond = await startAll(client, farKeys, startOne);
    const settleSeconds = await settle(client, farKeys.map(spec.workflowId), ours);
    const m = await sampledMemory(ours);
    console.log(
      `${asleep} started at ${startsPerSecond.toFixed(0)}/s, first tasks done ${settleSeconds.toFixed(1)} s after the last start; ` +
        `worker rss ${mb(m.rss).toFixed(0)} MB (max of 5 samples), main heap ${mb(m.heapUsed).toFixed(0)} MB, external ${mb(m.external).toFixed(0)} MB, ${m.cached} cached`,
    );

    // --- 2. lateness: M due at the same minute T
    const leadMs = (dueCount / startsPerSecond) * 2000 + settleSeconds * 1000 + 15_000;
    const dueAt = nextMinute(leadMs);
    const dueKeys = Array.from({ length: dueCount }, (_, i) => dueKey(tag, hhmm(dueAt), i));
    await startAll(client, dueKeys, startOne);
    await settle(client, dueKeys.map(spec.workflowId), ours);
    const settledBefore = dueAt - Date.now();
    if (settledBefore < 1000) throw new Error(`the ${dueCount} due workflows were not asleep 1 s before their reminder time (${settledBefore} ms): lateness would be meaningless`);
    console.log(`${dueCount} more started and asleep ${(settledBefore / 1000).toFixed(0)} s before ${new Date(dueAt).toISOString()} (REMINDER_TIME_UTC=${hhmm(dueAt)})`);
    const oursSends = await collectSends(ours, (k) => k.includes('-due'), dueCount, dueAt + 10 * 60_000);
    const oursLate = lateness(oursSends.firstPerKey, dueAt);
    const afterDue = await ours.memory();
    console.log(
      `ours: ${oursLate.n}/${dueCount} sent (${oursSends.total} send attempts), late p50 ${oursLate.p50} ms, p99 ${oursLate.p99} ms, max ${oursLate.max} ms` +
        `${oursLate.early ? `, ${oursLate.early} EARLY` : ''}; worker rss after ${mb(afterDue.rss).toFixed(0)} MB`,
    );

    // --- baseline: raw timers, same server, same cache settings
    raw = WorkerProcess.start(spec, 'raw', server.address, rawBundle);
    await raw.ready;
    const rawAt = Math.ceil((Date.now() + leadMs) / 1000) * 1000;
    const rawKeys = Array.from({ length: dueCount }, (_, i) => `${tag}-raw-${i}`);
    await startAll(client, rawKeys, (key) =>
      client.workflow.start('rawTimer', { taskQueue: `${spec.queue}-raw-timer`, workflowId: `raw-${key}`, args: [{ key, untilMs: rawAt }], workflowIdConflictPolicy: 'FAIL' }),
    );
    await settle(client, rawKeys.map((k) => `raw-${k}`), raw);
    if (rawAt - Date.now() < 1000) throw new Error('the raw timer workflows were not asleep 1 s before their instant');
    const rawSends = await collectSends(raw, () => true, dueCount, rawAt + 10 * 60_000);
    const rawLate = lateness(rawSends.firstPerKey, rawAt);
    console.log(`raw timer workflows: ${rawLate.n}/${dueCount} fired, late p50 ${rawLate.p50} ms, p99 ${rawLate.p99} ms, max ${rawLate.max} ms`);

    reportBench({
      name: `${spec.feature} worker RSS, ${asleep} workflows asleep`,
      ours: mb(m.rss),
      baseline: mb(idle),
      unit: 'MB',
      goal: { value: 300 },
      higherIsBetter: false,
      baselineLabel: 'the same worker idle, before any workflow',
      extra: { asleep, startsPerSecond, settleSeconds, cached: m.cached, heapUsedMb: mb(m.heapUsed), settings },
    });
    reportBench({
      name: `${spec.feature} reminders, ${dueCount} due at once: p99 lateness`,
      ours: Math.max(oursLate.p99, 0),
      baseline: Math.max(rawLate.p99, 0),
      unit: 'ms',
      goal: { value: 1000 },
      higherIsBetter: false,
      baselineLabel: 'raw Temporal timer workflows (sleep, one activity), same server and cache',
      extra: { ours: oursLate, raw: rawLate, sent: oursLate.n, expected: dueCount },
    });
  } finally {
    await raw?.stop().catch(() => {});
    await ours.stop().catch(() => {});
    await connection.close();
    await server.stop();
  }
}
