/**
 * Benchmark: N gestationTracking workflows started and sleeping on the Temporal dev server.
 * Prints the start throughput and the worker's memory while they sleep. Not a test: no
 * assertions, just figures.
 *
 *   source ~/.cache/horse-tempo/env.sh
 *   node --expose-gc --import tsx bench/gestation-workflows.ts [count=10000] [--concurrency=100] [--cache=<n>] [--bundle=all|gestation]
 *
 * --cache is the worker's maxCachedWorkflows (default: the SDK's, sized from the heap limit
 * as workers/run.ts runs it). Cached workflows cost memory; evicted ones cost nothing in the
 * worker until their next timer, when they are replayed from history. --cache=<count> shows
 * the worst case (every sleeping workflow kept in memory).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { startTemporalDevServer } from '../scripts/lib/temporal';
import { bundleWorkflows } from '../workers/run';
import { TaskQueue } from '../workflows/queues';
import { gestationWorkflowId } from '../workflows/ids';
import { nextReminderQuery, type GestationInput } from '../workflows/gestation/messages';
import type { gestationTracking } from '../workflows/gestation/gestationTracking';
import { dateOf } from '../domain/gestation';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000);
const concurrency = Number(flag('concurrency') ?? 100);
const cacheFlag = flag('cache');
/** all = workflows/index.ts as the workers run it; gestation = only workflows/gestation/gestationTracking.ts. */
const bundleKind = flag('bundle') ?? 'all';

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const memory = () => {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};

Runtime.install({ logger: new DefaultLogger('ERROR') });
const logDir = mkdtempSync(join(tmpdir(), 'gestation-bench-'));

const server = await startTemporalDevServer({ logFile: join(logDir, 'temporal.log') });
const nativeConnection = await NativeConnection.connect({ address: server.address });
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection });
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
const unexpected = async () => {
  throw new Error('no reminder is due during the benchmark');
};
const worker = await Worker.create({
  connection: nativeConnection,
  taskQueue: TaskQueue.gestation,
  workflowBundle:
    bundleKind === 'gestation'
      ? await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../workflows/gestation/gestationTracking.ts', import.meta.url)), logger: quiet })
      : await bundleWorkflows(),
  activities: {
    // The workflow reads the gestation first: every bench gestation was covered today (nothing due yet).
    loadGestation: async () => ({ found: true, status: 'tracking', plan: { anchorDate: dateOf(Date.now()), anchor: 'cover', leadDays: 2, options: {}, previousGestationDays: [] }, done: [], sent: {}, twinsChecks: [] }),
    sendGestationReminder: unexpected,
    sendGestationAlert: unexpected,
  },
  ...(cacheFlag ? { maxCachedWorkflows: Number(cacheFlag) } : {}),
});
const cache = worker.options.maxCachedWorkflows;
console.log(`gestation bench: ${count} workflows, ${concurrency} concurrent starts, worker cache ${cache}${cacheFlag ? '' : ' (SDK default)'}, bundle ${bundleKind} (logs in ${logDir})`);
const workerRun = worker.run();

try {
  await sleep(1000);
  const baseline = memory();
  console.log(`worker idle:            rss ${mb(baseline.rss)}, heap ${mb(baseline.heap)}`);

  const anchorDate = dateOf(Date.now());
  const run = Date.now().toString(36);
  let next = 0;

  /** Starts workflows [from, to) with `concurrency` clients in flight; returns seconds and per-start latencies. */
  async function startBatch(from: number, to: number) {
    next = from;
    const latencies: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, to - from) }, async () => {
        for (let i = next++; i < to; i = next++) {
          const input: GestationInput = { gestationId: `bench-${run}-${i}`, userId: 'bench', anchorDate, anchor: 'cover', leadDays: 2, options: {}, previousGestationDays: [] };
          const s = performance.now();
          await client.workflow.start<typeof gestationTracking>('gestationTracking', {
            taskQueue: TaskQueue.gestation,
            workflowId: gestationWorkflowId(input.gestationId),
            args: [input],
            workflowIdConflictPolicy: 'FAIL',
            workflowIdReusePolicy: 'REJECT_DUPLICATE',
          });
          latencies.push(performance.now() - s);
        }
      }),
    );
    return { seconds: (performance.now() - t0) / 1000, latencies: latencies.sort((a, b) => a - b) };
  }

  /**
   * Waits until the first workflow task of the started workflows has run (each ends in a
   * timer): asks the server about the last 20 started and 20 random ones until none has a
   * pending workflow task, and the worker has nothing in flight.
   */
  async function settle(upTo: number) {
    const t = performance.now();
    const sample = [...Array.from({ length: Math.min(20, upTo) }, (_, k) => upTo - 1 - k), ...Array.from({ length: 20 }, () => Math.floor(Math.random() * upTo))];
    for (;;) {
      const pending = await Promise.all(
        sample.map(async (i) => {
          const d = await client.workflow.getHandle(gestationWorkflowId(`bench-${run}-${i}`)).describe();
          return d.raw.pendingWorkflowTask != null;
        }),
      );
      if (!pending.some(Boolean) && worker.getStatus().numInFlightWorkflowActivations === 0) break;
      await sleep(1000);
    }
    return (performance.now() - t) / 1000;
  }

  async function sampledRss() {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(memory().rss);
      await sleep(1000);
    }
    return Math.max(...samples);
  }

  // Warm-up: the first workflow tasks start the workflow threads and load the bundle; that is not per-workflow cost.
  const warmup = Math.min(count, Math.max(1, Math.floor(count / 20)));
  await startBatch(0, warmup);
  await settle(warmup);
  const warmRss = await sampledRss();
  console.log(`after ${warmup} warm-up workflows: rss ${mb(warmRss)} (+${mb(warmRss - baseline.rss)} over idle: workflow threads, bundle, first contexts)`);

  const { seconds, latencies } = await startBatch(warmup, count);
  const started = count - warmup;
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1) : '-');
  console.log(`started ${started} more in ${seconds.toFixed(1)} s: ${(started / seconds).toFixed(0)} starts/s (latency p50 ${pct(50)} ms, p99 ${pct(99)} ms)`);
  const settleSeconds = await settle(count);
  console.log(`all first workflow tasks done ${settleSeconds.toFixed(1)} s after the last start; ${worker.getStatus().numCachedWorkflows} workflows cached in the worker`);

  const rss = await sampledRss();
  const sleeping = memory();
  const cached = worker.getStatus().numCachedWorkflows;
  console.log(`worker while ${count} sleep: rss ${mb(rss)} (max of 5 samples over 5 s), main heap ${mb(sleeping.heap)}, ${cached} workflows cached`);
  console.log(`  +${mb(rss - baseline.rss)} rss over idle ≈ ${((rss - baseline.rss) / 1024 / Math.max(1, cached)).toFixed(0)} KB per cached workflow` + (count > cached ? `; the ${count - cached} evicted ones cost no worker memory until their next timer` : ''));
  const running = await client.workflow.count(`WorkflowType = 'gestationTracking' AND ExecutionStatus = 'Running'`);
  console.log(`server: ${running.count} gestationTracking workflows running`);

  const t2 = performance.now();
  const probe = await client.workflow.getHandle(gestationWorkflowId(`bench-${run}-0`)).query(nextReminderQuery);
  console.log(`query of the first workflow${count > cached ? ' (evicted: replayed from history)' : ''}: ${(performance.now() - t2).toFixed(0)} ms, sleeps until ${probe?.id} at ${probe?.reminderAt}`);
} finally {
  worker.shutdown();
  await workerRun.catch(() => {});
  await nativeConnection.close();
  await connection.close();
  await server.stop();
}
