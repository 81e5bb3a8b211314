/**
 * Benchmark: N healthReminders workflows (one per horse) started and asleep on the Temporal
 * dev server; the worker's RSS while they sleep, for the dedicated health worker (own
 * bundle workflows/health/index.ts, maxCachedWorkflows 250 as workers/run.ts runs it) and,
 * in the same run, the SDK defaults (the all-workflows bundle, default cache) as baseline.
 * Each configuration runs in its own child process with its own dev server, so neither
 * measures the other's memory. Not a test: figures only.
 *
 *   source ~/.cache/horse-tempo/env.sh
 *   flock /tmp/ht-fullsuite.lock node --expose-gc --import tsx bench/health-workflows.ts [count=10000]
 *
 * NOT measured (yet): lateness when 1,000 reminders fall due in the same minute — reminders go
 * out at 08:00 UTC, so the bench would need a time-of-day override in the workflow input.
 */
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { startTemporalDevServer } from '../scripts/lib/temporal';
import { bundleWorkflows, MAX_CACHED_WORKFLOWS, OWN_BUNDLE_PATHS } from '../workers/run';
import { TaskQueue } from '../workflows/queues';
import { healthWorkflowId } from '../workflows/ids';
import { plusDays, dayOf } from '../domain/health';
import { reportBench } from './lib/report';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 10_000);
const role = flag('role');
const mb = (bytes: number) => bytes / 1024 / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssNow = () => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
};

interface Figures {
  mode: string;
  idleMb: number;
  asleepMb: number;
  cached: number;
  startsPerSecond: number;
}

async function child(mode: 'ours' | 'baseline'): Promise<Figures> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startTemporalDevServer({ logFile: join(mkdtempSync(join(tmpdir(), 'health-bench-')), 'temporal.log') });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
  const due = plusDays(dayOf(Date.now()), 30);
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TaskQueue.health,
    workflowBundle: mode === 'ours' ? await bundleWorkflowCode({ workflowsPath: OWN_BUNDLE_PATHS.health!, logger: quiet }) : await bundleWorkflows(),
    activities: {
      // Every bench horse had its farrier 12 days ago: the next reminder is weeks away, so each reads once and sleeps.
      loadHealthReminders: async () => ({ found: true, horseName: 'Bench', items: [{ key: 'farrier', title: 'Farrier', dueDate: due, sent: [], leadDays: 2 }] }),
      sendHealthReminder: async () => {
        throw new Error('no reminder is due during the benchmark');
      },
      startMissingHealthWorkflows: async () => ({ checked: 0, started: [] }),
    },
    ...(mode === 'ours' ? { maxCachedWorkflows: MAX_CACHED_WORKFLOWS.health } : {}),
  });
  const run = worker.run();
  try {
    await sleep(1000);
    const idle = rssNow();
    const tag = Date.now().toString(36);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        for (let i = next++; i < count; i = next++) {
          await client.workflow.start('healthReminders', { taskQueue: TaskQueue.health, workflowId: healthWorkflowId(`${tag}-${i}`), args: [{ horseId: `${tag}-${i}` }] });
        }
      }),
    );
    const startsPerSecond = count / ((performance.now() - t0) / 1000);
    // Settle: the last started workflows have run their first task (read, then a timer).
    for (;;) {
      const pending = await Promise.all(
        Array.from({ length: 20 }, (_, k) => client.workflow.getHandle(healthWorkflowId(`${tag}-${count - 1 - k}`)).describe().then((d) => d.raw.pendingWorkflowTask != null)),
      );
      if (!pending.some(Boolean) && worker.getStatus().numInFlightWorkflowActivations === 0) break;
      await sleep(1000);
    }
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(rssNow());
      await sleep(1000);
    }
    return { mode, idleMb: mb(idle), asleepMb: mb(Math.max(...samples)), cached: worker.getStatus().numCachedWorkflows, startsPerSecond };
  } finally {
    worker.shutdown();
    await run.catch(() => {});
    await nativeConnection.close();
    await connection.close();
    await server.stop();
  }
}

function runChild(mode: 'ours' | 'baseline'): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const p = fork(fileURLToPath(import.meta.url), [String(count), `--role=${mode}`], { execArgv: ['--expose-gc', '--import', 'tsx'] });
    p.on('message', (m) => resolve(m as Figures));
    p.on('exit', (code) => (code ? reject(new Error(`${mode} run exited with ${code}`)) : undefined));
  });
}

if (role === 'ours' || role === 'baseline') {
  const figures = await child(role);
  process.send!(figures);
  process.exit(0);
} else {
  console.log(`health bench: ${count} horses, each with a farrier reminder a month away`);
  const ours = await runChild('ours');
  console.log(`dedicated health worker (own bundle, cache ${MAX_CACHED_WORKFLOWS.health}): idle ${ours.idleMb.toFixed(0)} MB, asleep ${ours.asleepMb.toFixed(0)} MB, ${ours.cached} cached, ${ours.startsPerSecond.toFixed(0)} starts/s`);
  const baseline = await runChild('baseline');
  console.log(`SDK defaults (all workflows bundle, default cache): idle ${baseline.idleMb.toFixed(0)} MB, asleep ${baseline.asleepMb.toFixed(0)} MB, ${baseline.cached} cached, ${baseline.startsPerSecond.toFixed(0)} starts/s`);
  reportBench({
    name: `health worker RSS with ${count} horses asleep`,
    ours: ours.asleepMb,
    baseline: baseline.asleepMb,
    unit: 'MB',
    goal: { value: 300 },
    higherIsBetter: false,
    baselineLabel: 'SDK defaults: all-workflows bundle, default workflow cache',
    extra: { ours, baseline },
  });
}
