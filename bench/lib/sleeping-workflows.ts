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
 * 2. lateness: M more workflows whose reminder falls due in the same minute T
 *    (REMINDER_TIME_UTC = T's HH:MM, passed through the config schema that validates the
 *    real setting), spread over that minute by the real mechanism: each stand-in snapshot
 *    carries `reminderOffsetSeconds(key, 1)` (domain/reminder-window.ts with a 1-minute
 *    window), and each send's lateness is measured against that workflow's own instant
 *    (T + its offset). `--at-once` gives every workflow offset 0 (all at T, the old case).
 *    Baseline: M raw Temporal timer workflows (sleep until an instant, call one activity,
 *    nothing else) on a worker with the same cache settings, against the same server, in
 *    the same run, each sleeping until the instant of its counterpart (the same set of
 *    offsets from their own T).
 *
 * The worker child runs what production runs (`node --enable-source-maps dist/worker.js`
 * with WORKER_QUEUES=<queue>): this bench file compiled by esbuild with the options of
 * scripts/build.ts into .data/bench/sleeping-<feature>/ and started with plain node (no
 * tsx: +~36 MB the compiled worker does not pay). Like workers/main.ts it creates the ORM
 * (its connection is lazy: no query ever runs), the mailer and the queue's adapters, and
 * imports the queue's real activity modules (workers/activities.ts QUEUE_ACTIVITIES), so
 * their import cost (MikroORM + entities, ~75 MB) is in the figure. Stand-in activities of
 * the same names are registered over the real ones: the database read returns a fixed
 * snapshot (the bench measures the worker and Temporal, not Postgres), the send records
 * when it ran.
 *
 * Memory is printed with its parts (main V8 heap, the workflow thread's V8 heap, the rest:
 * native memory of node, the Temporal core and malloc), idle and with N asleep.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { startTemporalDevServer } from '../../scripts/lib/temporal';
import { loadConfig } from '../../config';
import { createLogger } from '../../adapters/logger';
import { createMailer } from '../../adapters/email/mailer';
import { createOrm } from '../../entities/orm';
import { createQueueAdapters, loadQueueActivities } from '../../workers/activities';
import { OWN_BUNDLE_PATHS, queueWorkerOptions, workflowsPath } from '../../workers/run';
import { REMINDERS_WORKER_PROCESS_ENV } from '../../workers/process-settings';
import type { TaskQueue } from '../../workflows/queues';
import { benchMode, percentile, reportBench } from './report';
import { wakeProfile } from './wake-profile';
import { cpuSecondsOf } from './cpu';
import { dueKey, dueOffsetSecondsOf } from './due-keys';

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
  /** The activity type that sends the reminder (the wake-up profile times the path up to its start). */
  sendActivity: string;
  /** Stand-in activities for one worker child; `sent(key)` records a send's start. */
  activities(ctx: { sent(key: string): void }): Record<string, (...args: never[]) => Promise<unknown>>;
}

export { dueKey, dueOffsetSecondsOf, dueTimeOf } from './due-keys';

const args = process.argv.slice(2);
/** The value of `--name=value` (everything after the first `=`: values may hold `=`). */
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(`--${name}=`.length);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number) => bytes / 1024 / 1024;

type ToWorker = { type: 'memory' } | { type: 'sends' };
/** Where the worker's memory is, in bytes (see `memoryOf`). */
interface MemoryParts {
  rss: number;
  /** /proc/self/status: anonymous (heap, malloc, stacks) vs file-backed (code, mapped libraries). */
  rssAnon: number;
  rssFile: number;
  /** The main thread's V8 heap: used, and physical (pages V8 holds, used or not). */
  heapUsed: number;
  heapPhysical: number;
  external: number;
  /** The workflow thread(s)' V8 heaps, where cached workflows live. */
  threadHeapUsed: number;
  threadHeapPhysical: number;
}
type FromWorker =
  | { type: 'ready'; maxCachedWorkflows: number; reuseV8Context: boolean; workflowThreadPoolSize: number; maxConcurrentWorkflowTaskExecutions: number; importedActivities: string[] }
  | ({ type: 'memory'; cached: number; inFlight: number } & MemoryParts)
  | { type: 'sends'; sends: { key: string; at: number }[] };

/** The V8 heap statistics of the SDK's workflow threads (private fields: this is a bench, it reads them to attribute memory, nothing else). */
async function workflowThreadHeaps(worker: Worker): Promise<{ used: number; physical: number }> {
  const clients = (worker as unknown as { workflowCreator?: { workerThreadClients?: { workerThread: { getHeapStatistics?: () => Promise<{ used_heap_size: number; total_physical_size: number }> } }[] } }).workflowCreator
    ?.workerThreadClients;
  const stats = await Promise.all((clients ?? []).map((c) => c.workerThread.getHeapStatistics?.()));
  return stats.reduce((a, s) => ({ used: a.used + (s?.used_heap_size ?? 0), physical: a.physical + (s?.total_physical_size ?? 0) }), { used: 0, physical: 0 });
}

async function memoryOf(worker: Worker): Promise<MemoryParts> {
  const u = process.memoryUsage();
  const v8 = getHeapStatistics();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const thread = await workflowThreadHeaps(worker);
  return { rss: u.rss, rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), heapUsed: u.heapUsed, heapPhysical: v8.total_physical_size, external: u.external, threadHeapUsed: thread.used, threadHeapPhysical: thread.physical };
}

/** "rss 363 MB = main heap 40 (used 30) + workflow thread heap 90 (used 60) + native/other 233 (anon 300, file 63)". */
export function formatMemory(m: MemoryParts): string {
  const rest = m.rss - m.heapPhysical - m.threadHeapPhysical;
  return (
    `rss ${mb(m.rss).toFixed(0)} MB = main V8 heap ${mb(m.heapPhysical).toFixed(0)} (used ${mb(m.heapUsed).toFixed(0)}) + workflow thread V8 heap ${mb(m.threadHeapPhysical).toFixed(0)} (used ${mb(m.threadHeapUsed).toFixed(0)})` +
    ` + native/other ${mb(rest).toFixed(0)} [rss anon ${mb(m.rssAnon).toFixed(0)}, file ${mb(m.rssFile).toFixed(0)}; external ${mb(m.external).toFixed(0)}]`
  );
}

// ------------------------------------------------------------------------------------------
// Worker child
// ------------------------------------------------------------------------------------------

async function workerChild(spec: SleepingBenchSpec, kind: 'ours' | 'raw'): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const address = flag('address')!;
  const config = loadConfig(process.env);
  // What workers/main.ts creates for a worker polling this queue: the ORM (lazy connection:
  // the bench's DATABASE_URL points nowhere and no query runs), the mailer, the queue's
  // adapters, then the queue's real activity modules, so their import cost is paid.
  const logger = createLogger({ level: 'error', name: 'bench-worker' });
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL, poolMax: config.DATABASE_POOL_MAX });
  const mailer = createMailer(config, logger);
  const real = await loadQueueActivities(spec.queue, { config, orm, logger, mailer, ...(await createQueueAdapters([spec.queue], config)) });
  const connection = await NativeConnection.connect({ address });
  const sends: { key: string; at: number }[] = [];
  const sent = (key: string) => sends.push({ key, at: Date.now() });
  // The production options of the queue (cache, WORKER_TUNING from this environment), with
  // the bundle prebuilt by the parent as `npm run build` prebuilds it for the compiled worker.
  const production = await queueWorkerOptions(spec.queue, { tuning: config.WORKER_TUNING, queueBundle: { codePath: flag('bundle')! } });
  const worker = await Worker.create({
    connection,
    ...production,
    ...(kind === 'raw'
      ? { taskQueue: `${spec.queue}-raw-timer`, activities: { rawTimerFired: async (key: string) => sent(key) } }
      : { taskQueue: spec.queue, activities: { ...real, ...spec.activities({ sent }) } }),
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
      const s = worker.getStatus();
      void memoryOf(worker).then((parts) => send({ type: 'memory', ...parts, cached: s.numCachedWorkflows, inFlight: s.numInFlightWorkflowActivations }));
    } else if (m.type === 'sends') send({ type: 'sends', sends });
  });
  send({
    type: 'ready',
    maxCachedWorkflows: worker.options.maxCachedWorkflows,
    reuseV8Context: worker.options.reuseV8Context,
    workflowThreadPoolSize: worker.options.workflowThreadPoolSize,
    // The SDK turns the slot count into a fixed-size tuner (40 when unset).
    maxConcurrentWorkflowTaskExecutions: production.maxConcurrentWorkflowTaskExecutions ?? 40,
    importedActivities: Object.keys(real),
  });
  await run;
  await connection.close();
  await orm.close();
  process.exit(0);
}

/**
 * Compiles the bench file (which holds the worker child) as scripts/build.ts compiles
 * dist/worker.js: ESM, npm packages left as imports, import()ed modules split into chunks,
 * source maps. Written inside the repository so the packages resolve from node_modules.
 */
async function compileWorkerChild(spec: SleepingBenchSpec): Promise<string> {
  const outdir = fileURLToPath(new URL(`../../.data/bench/sleeping-${spec.feature}/`, import.meta.url));
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // Imported here, not at the top: the compiled child must not load esbuild.
  const { build } = await import('esbuild');
  await build({
    entryPoints: { worker: fileURLToPath(spec.script) },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    sourcemap: true,
    splitting: true,
    chunkNames: 'chunk-[name]-[hash]',
    logLevel: 'warning',
  });
  return join(outdir, 'worker.js');
}

/**
 * The worker child's process: plain node with the production entrypoint's flag
 * (--enable-source-maps, package.json start:worker and the Dockerfile), --expose-gc so a
 * sample follows a full collection of the main heap, and no tsx. DATABASE_URL points at a
 * closed port: MikroORM connects lazily and the stand-in activities never query.
 */
const CHILD_NODE_FLAGS = ['--enable-source-maps', '--expose-gc'];
const UNUSED_DATABASE_URL = 'postgresql://bench:unused@127.0.0.1:9/horse_tempo_bench_unused';

/**
 * The worker child's environment: ours, the unused database, then the reminders worker
 * group's process settings as production sets them (workers/process-settings.ts; its
 * NODE_OPTIONS replaces ours, so nothing such as tsx is preloaded), then
 * `--worker-env=K=V;K=V` (e.g. `--worker-env='MALLOC_ARENA_MAX=;NODE_OPTIONS='` for none) to
 * measure a process setting against the defaults in back-to-back runs. An empty value unsets it.
 */
function childEnv(): NodeJS.ProcessEnv {
  const overrides = Object.fromEntries(
    (flag('worker-env') ?? '')
      .split(';')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: UNUSED_DATABASE_URL, ...REMINDERS_WORKER_PROCESS_ENV, ...overrides };
  for (const [k, v] of Object.entries(env)) if (v === '') delete env[k];
  return env;
}

// ------------------------------------------------------------------------------------------
// Parent: server, client, measurements
// ------------------------------------------------------------------------------------------

class WorkerProcess {
  private waiting: ((m: FromWorker) => void)[] = [];
  readonly ready: Promise<Extract<FromWorker, { type: 'ready' }>>;
  /** The child's pid, for its CPU time (cpuSecondsOf). */
  get pid(): number {
    return this.child.pid!;
  }
  private constructor(private child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.once('message', (m) => resolve(m as Extract<FromWorker, { type: 'ready' }>));
      child.once('exit', (code) => reject(new Error(`worker child exited with ${code} before it was ready`)));
    });
    child.on('message', (m) => this.waiting.shift()?.(m as FromWorker));
  }
  static start(compiled: string, kind: 'ours' | 'raw', address: string, bundle: string, env: NodeJS.ProcessEnv) {
    return new WorkerProcess(
      fork(compiled, [`--role=${kind}`, `--address=${address}`, `--bundle=${bundle}`], { execArgv: CHILD_NODE_FLAGS, env }),
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

/** How late each key's first send started after its own planned instant. */
function lateness(firstPerKey: Map<string, number>, plannedAt: (key: string) => number) {
  const late = [...firstPerKey.entries()].map(([key, at]) => at - plannedAt(key)).sort((a, b) => a - b);
  return { n: late.length, p50: percentile(late, 50), p99: percentile(late, 99), max: late[late.length - 1] ?? NaN, early: late.filter((l) => l < 0).length };
}

function reportMemory(spec: SleepingBenchSpec, asleep: number, m: MemoryParts & { cached: number }, idle: MemoryParts, extra: Record<string, unknown>) {
  const inMb = (p: MemoryParts) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Math.round(mb(v as number))]));
  reportBench({
    name: `${spec.feature} worker RSS, ${asleep} workflows asleep`,
    ours: mb(m.rss),
    baseline: mb(idle.rss),
    unit: 'MB',
    goal: { value: 300 },
    higherIsBetter: false,
    baselineLabel: 'the same worker idle, before any workflow',
    extra: { asleep, cached: m.cached, asleepMb: inMb(m), idleMb: inMb(idle), ...extra },
  });
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
  const compiled = await compileWorkerChild(spec);
  const workerEnv = childEnv();
  const ours = WorkerProcess.start(compiled, 'ours', server.address, ourBundle, workerEnv);
  let raw: WorkerProcess | undefined;
  try {
    const settings = await ours.ready;
    console.log(
      `${spec.feature} bench (${mode}): ${asleep} asleep, then ${dueCount} due in the same minute; worker as production runs the ${spec.queue} queue: ` +
        `maxCachedWorkflows ${settings.maxCachedWorkflows}, maxConcurrentWorkflowTaskExecutions ${settings.maxConcurrentWorkflowTaskExecutions}, reuseV8Context ${settings.reuseV8Context}, ` +
        `${settings.workflowThreadPoolSize} workflow thread(s); compiled child (${compiled}), node ${CHILD_NODE_FLAGS.join(' ')}, MALLOC_ARENA_MAX=${workerEnv.MALLOC_ARENA_MAX ?? '(unset)'}, NODE_OPTIONS=${workerEnv.NODE_OPTIONS ?? '(unset)'}, ` +
        `real activity modules imported (${settings.importedActivities.length} activities: ${settings.importedActivities.join(', ')}) (logs in ${logDir})`,
    );
    await sleep(1000);
    const idleParts = await sampledMemory(ours);
    const idle = idleParts.rss;
    console.log(`worker idle: ${formatMemory(idleParts)}`);

    // --- 1. memory with N asleep
    const tag = Date.now().toString(36);
    const farKeys = Array.from({ length: asleep }, (_, i) => `${tag}-far-${i}`);
    const startsPerSecond = await startAll(client, farKeys, startOne);
    const settleSeconds = await settle(client, farKeys.map(spec.workflowId), ours);
    const m = await sampledMemory(ours);
    console.log(`${asleep} started at ${startsPerSecond.toFixed(0)}/s, first tasks done ${settleSeconds.toFixed(1)} s after the last start; ${m.cached} cached`);
    console.log(`worker with ${asleep} asleep (max of 5 samples): ${formatMemory(m)}`);
    console.log(`worker rss idle ${mb(idle).toFixed(0)} MB, with ${asleep} asleep ${mb(m.rss).toFixed(0)} MB (+${mb(m.rss - idle).toFixed(0)} MB)`);
    if (args.includes('--memory-only')) {
      reportMemory(spec, asleep, m, idleParts, { startsPerSecond, settleSeconds, settings, workerEnv: { MALLOC_ARENA_MAX: workerEnv.MALLOC_ARENA_MAX ?? null, NODE_OPTIONS: workerEnv.NODE_OPTIONS ?? null, WORKER_TUNING: workerEnv.WORKER_TUNING ?? null } });
      return;
    }

    // --- 2. lateness: M due in the same minute T, over a 1-minute reminder window (or all at T with --at-once)
    const atOnce = args.includes('--at-once');
    const leadMs = (dueCount / startsPerSecond) * 2000 + settleSeconds * 1000 + 15_000;
    const dueAt = nextMinute(leadMs);
    const dueKeys = Array.from({ length: dueCount }, (_, i) => dueKey(tag, hhmm(dueAt), i, !atOnce));
    const plannedAt = (key: string) => dueAt + dueOffsetSecondsOf(key) * 1000;
    const byWorkflowId = new Map(dueKeys.map((k) => [spec.workflowId(k), plannedAt(k)]));
    const spread = new Set(dueKeys.map((k) => dueOffsetSecondsOf(k)));
    console.log(
      atOnce
        ? `lateness mode: --at-once, all ${dueCount} due at the same instant (REMINDER_WINDOW_MINUTES=0)`
        : `lateness mode: ${dueCount} due in the same minute (1-minute reminder window: reminderOffsetSeconds(id, 1) puts them on ${spread.size} distinct seconds, ${Math.min(...spread)}-${Math.max(...spread)} s after the minute)`,
    );
    await startAll(client, dueKeys, startOne);
    await settle(client, dueKeys.map(spec.workflowId), ours);
    const settledBefore = dueAt - Date.now();
    if (settledBefore < 1000) throw new Error(`the ${dueCount} due workflows were not asleep 1 s before their reminder time (${settledBefore} ms): lateness would be meaningless`);
    console.log(`${dueCount} more started and asleep ${(settledBefore / 1000).toFixed(0)} s before ${new Date(dueAt).toISOString()} (REMINDER_TIME_UTC=${hhmm(dueAt)})`);
    // Worker CPU from just before the first wake until every wake-up is asleep again (the
    // profile waits for that), per reminder sent: the capacity table's reminders row. It includes
    // the worker's idle polling over that interval, so it is an upper bound.
    const oursCpuBefore = cpuSecondsOf(ours.pid);
    const oursSends = await collectSends(ours, (k) => k.includes('-due'), dueCount, dueAt + 10 * 60_000);
    const oursLate = lateness(oursSends.firstPerKey, plannedAt);
    const afterDue = await ours.memory();
    const oursProfile = await wakeProfile(client, 'ours', dueKeys.map(spec.workflowId), (id) => byWorkflowId.get(id)!, spec.sendActivity, { file: join(logDir, 'ours-latest-histories.json'), keepLatest: 5 });
    const workerCpuMsPerReminder = ((cpuSecondsOf(ours.pid) - oursCpuBefore) * 1000) / Math.max(1, oursLate.n);
    console.log(
      `ours: ${oursLate.n}/${dueCount} sent (${oursSends.total} send attempts), late p50 ${oursLate.p50} ms, p99 ${oursLate.p99} ms, max ${oursLate.max} ms` +
        `${oursLate.early ? `, ${oursLate.early} EARLY` : ''}; worker rss after ${mb(afterDue.rss).toFixed(0)} MB`,
    );

    // --- baseline: raw timers, same server, same cache settings
    raw = WorkerProcess.start(compiled, 'raw', server.address, rawBundle, workerEnv);
    await raw.ready;
    const rawAt = Math.ceil((Date.now() + leadMs) / 1000) * 1000;
    const rawKeys = Array.from({ length: dueCount }, (_, i) => `${tag}-raw-${i}`);
    // Each raw workflow sleeps until its counterpart's instant (the same offset from its own minute).
    const rawPlanned = new Map(rawKeys.map((k, i) => [k, rawAt + (plannedAt(dueKeys[i]) - dueAt)]));
    await startAll(client, rawKeys, (key) =>
      client.workflow.start('rawTimer', { taskQueue: `${spec.queue}-raw-timer`, workflowId: `raw-${key}`, args: [{ key, untilMs: rawPlanned.get(key)! }], workflowIdConflictPolicy: 'FAIL' }),
    );
    await settle(client, rawKeys.map((k) => `raw-${k}`), raw);
    if (rawAt - Date.now() < 1000) throw new Error('the raw timer workflows were not asleep 1 s before their instant');
    const rawCpuBefore = cpuSecondsOf(raw.pid);
    const rawSends = await collectSends(raw, () => true, dueCount, rawAt + 10 * 60_000);
    const rawLate = lateness(rawSends.firstPerKey, (key) => rawPlanned.get(key)!);
    console.log(`raw timer workflows: ${rawLate.n}/${dueCount} fired, late p50 ${rawLate.p50} ms, p99 ${rawLate.p99} ms, max ${rawLate.max} ms`);
    const rawProfile = await wakeProfile(client, 'raw', rawKeys.map((k) => `raw-${k}`), (id) => rawPlanned.get(id.slice('raw-'.length))!, 'rawTimerFired', { file: join(logDir, 'raw-latest-histories.json'), keepLatest: 5 });
    const rawCpuMsPerReminder = ((cpuSecondsOf(raw.pid) - rawCpuBefore) * 1000) / Math.max(1, rawLate.n);
    for (const line of [...oursProfile.lines, ...rawProfile.lines]) console.log(line);
    console.log(`worker CPU per reminder, first wake to asleep again (idle polling included): ours ${workerCpuMsPerReminder.toFixed(1)} ms, raw ${rawCpuMsPerReminder.toFixed(1)} ms`);

    reportMemory(spec, asleep, m, idleParts, { startsPerSecond, settleSeconds, settings, workerEnv: { MALLOC_ARENA_MAX: workerEnv.MALLOC_ARENA_MAX ?? null, NODE_OPTIONS: workerEnv.NODE_OPTIONS ?? null, WORKER_TUNING: workerEnv.WORKER_TUNING ?? null } });
    reportBench({
      name: atOnce ? `${spec.feature} reminders, ${dueCount} due at once: p99 lateness` : `${spec.feature} reminders, ${dueCount} due in the same minute (1-minute window): p99 lateness`,
      ours: Math.max(oursLate.p99, 0),
      baseline: Math.max(rawLate.p99, 0),
      unit: 'ms',
      goal: { value: 1000 },
      higherIsBetter: false,
      baselineLabel: 'raw Temporal timer workflows (sleep, one activity), same server and cache',
      extra: { workerCpuMsPerReminder, rawCpuMsPerReminder, mode: atOnce ? 'at-once' : '1-minute window', distinctSeconds: spread.size, ours: oursLate, raw: rawLate, sent: oursLate.n, expected: dueCount, wakePaths: { ours: oursProfile.paths, raw: rawProfile.paths }, wholeWake: { ours: oursProfile.whole, raw: rawProfile.whole } },
    });
  } finally {
    await raw?.stop().catch(() => {});
    await ours.stop().catch(() => {});
    await connection.close();
    await server.stop();
  }
}
