import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkerOptions, type WorkflowBundleOption, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ALL_TASK_QUEUES, LEGACY_TASK_QUEUES, type LegacyTaskQueue, type TaskQueue } from '../workflows/queues';
import { loadQueueActivities, type WorkerDeps } from './activities';
import type { WorkerTuning } from '../config';
import type { TemporalConnectionSettings } from '../adapters/temporal/connection';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/**
 * The workflow bundle `npm run build` writes next to the compiled worker (dist/worker.js);
 * the compiled worker loads it instead of bundling at start (webpack costs seconds and
 * hundreds of MB). Run from source, the file does not exist and the code is bundled.
 */
export function prebuiltWorkflowBundle(): WorkflowBundleOption | undefined {
  const codePath = fileURLToPath(new URL('./workflow-bundle.js', import.meta.url));
  return existsSync(codePath) ? { codePath } : undefined;
}

/** Bundles the workflow code once; every worker in the process shares the bundle. */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
}

/**
 * Queues whose worker runs a bundle of its own workflows only. The health and gestation
 * queues keep one sleeping workflow per horse or pregnancy (tens of thousands): each cached
 * workflow holds its state in a V8 context of its bundle, so a bundle without the other
 * features' code costs less per workflow (README: 0.4 vs 1.3 MB per cached gestation).
 */
export const OWN_BUNDLE_PATHS: Partial<Record<TaskQueue, string>> = {
  gestation: fileURLToPath(new URL('../workflows/gestation/index.ts', import.meta.url)),
  health: fileURLToPath(new URL('../workflows/health/index.ts', import.meta.url)),
};
const ownBundles = new Map<string, Promise<WorkflowBundleOption>>();
/** The prebuilt own bundle of a queue (`npm run build` writes dist/workflow-bundle-<queue>.js), else bundled from source once per process. */
export function bundleQueueWorkflows(queue: TaskQueue): Promise<WorkflowBundleOption> | null {
  const path = OWN_BUNDLE_PATHS[queue];
  if (!path) return null;
  const codePath = fileURLToPath(new URL(`./workflow-bundle-${queue}.js`, import.meta.url));
  if (existsSync(codePath)) return Promise.resolve({ codePath });
  let bundle = ownBundles.get(path);
  if (!bundle) {
    bundle = bundleWorkflowCode({ workflowsPath: path, logger: quietBundlerLogger });
    ownBundles.set(path, bundle);
  }
  return bundle;
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (m: string, meta?: unknown) => console.warn(m, meta ?? ''),
  error: (m: string, meta?: unknown) => console.error(m, meta ?? ''),
};

/** The SDK's default maxConcurrentWorkflowTaskExecutions. */
const SDK_WORKFLOW_TASK_SLOTS = 40;

/**
 * Gestation, listing and health workflows sleep for weeks between steps: keeping thousands
 * of them cached costs memory (bench/gestation-workflows.ts measured 4.5 GB for 10,000 with
 * the SDK's default cache and the all-workflows bundle), while an evicted one costs nothing
 * until its timer fires and it is replayed from its (short, continued-as-new) history. The
 * reminder queues (gestation, health) keep 20: with 1,000 health workflows asleep the
 * compiled worker measured 299 MB with 100 cached and 219 MB with 20 (idle 180 MB; the
 * workflow thread's V8 heap 113 vs 39 MB), README "Reminders worker". A timer firing on an
 * evicted workflow replays its short history first. The busy, short-lived queues keep the
 * SDK's default. WORKER_TUNING overrides per queue.
 */
export const MAX_CACHED_WORKFLOWS: Partial<Record<TaskQueue, number>> = {
  gestation: 20,
  marketplace: 250,
  health: 20,
};

/**
 * What is wrong with a queue's effective settings (our defaults + WORKER_TUNING), checked
 * at start: the SDK would silently clamp these (with a warning) instead.
 */
export function queueSettingsProblems(queue: TaskQueue, tuning: Partial<Record<TaskQueue, WorkerTuning>> = {}): string[] {
  const cache = tuning[queue]?.maxCachedWorkflows ?? MAX_CACHED_WORKFLOWS[queue];
  const slots = tuning[queue]?.maxConcurrentWorkflowTaskExecutions;
  const problems: string[] = [];
  if (cache === 1) problems.push(`${queue}.maxCachedWorkflows must be 0 (no sticky cache) or at least 2 (got 1)`);
  if (cache !== undefined && cache > 0 && slots !== undefined && slots > cache) {
    problems.push(`${queue}.maxConcurrentWorkflowTaskExecutions (${slots}) cannot exceed ${queue}.maxCachedWorkflows (${cache}): raise the cache or lower the slots`);
  }
  return problems;
}

/**
 * The Worker options a queue runs with in production, apart from the connection, namespace
 * and activities: its workflow bundle (own or shared), its workflow cache and the
 * WORKER_TUNING fields set for it. The sleeping-workflow benches build their workers from
 * this too, so they measure what production runs.
 */
export async function queueWorkerOptions(
  queue: TaskQueue,
  opts: {
    tuning?: Partial<Record<TaskQueue, WorkerTuning>>;
    /** The all-workflows bundle, for queues without their own. */
    sharedBundle?: WorkflowBundleOption;
    /** This queue's bundle, already built (a bench prebuilds it as `npm run build` does). */
    queueBundle?: WorkflowBundleOption;
  } = {},
): Promise<Pick<WorkerOptions, 'workflowBundle' | 'shutdownGraceTime' | 'maxCachedWorkflows'> & WorkerTuning> {
  const tuning = opts.tuning?.[queue];
  const cache = tuning?.maxCachedWorkflows ?? MAX_CACHED_WORKFLOWS[queue];
  return {
    workflowBundle: opts.queueBundle ?? (await bundleQueueWorkflows(queue)) ?? opts.sharedBundle ?? prebuiltWorkflowBundle() ?? (await bundleWorkflows()),
    shutdownGraceTime: '10s',
    ...(cache !== undefined ? { maxCachedWorkflows: cache } : {}),
    // A small cache caps the workflow-task slots too (the SDK would lower its default of 40 to
    // the cache with a warning at every start): say so here instead.
    ...(cache ? { maxConcurrentWorkflowTaskExecutions: Math.min(SDK_WORKFLOW_TASK_SLOTS, cache) } : {}),
    ...tuning,
  };
}

export interface RunningWorkers {
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  /** Asks every worker to finish its in-flight tasks and stop, then closes the connection. */
  shutdown(): Promise<void>;
}

/** One Worker per task queue, all in this process, sharing one connection and one bundle. */
export async function startWorkers(opts: {
  deps: WorkerDeps;
  /** Where Temporal is: an address (dev, tests) or the full settings with TLS / API key. */
  address: string;
  connection?: TemporalConnectionSettings;
  namespace: string;
  queues?: TaskQueue[];
  /** Per-queue slots and cache (WORKER_TUNING); a field set there wins over MAX_CACHED_WORKFLOWS. */
  tuning?: Partial<Record<TaskQueue, WorkerTuning>>;
  /** Old queue names still drained (WORKER_LEGACY_QUEUES): polled like their successor. */
  legacyQueues?: LegacyTaskQueue[];
  bundle?: WorkflowBundleOption;
}): Promise<RunningWorkers> {
  const queues = opts.queues?.length ? opts.queues : ALL_TASK_QUEUES;
  const sharedBundle = opts.bundle ?? prebuiltWorkflowBundle() ?? (await bundleWorkflows());
  const connection = await NativeConnection.connect(opts.connection ?? { address: opts.address });
  const polled: { taskQueue: string; like: TaskQueue }[] = [
    ...queues.map((q) => ({ taskQueue: q, like: q })),
    ...(opts.legacyQueues ?? []).map((q) => ({ taskQueue: q, like: LEGACY_TASK_QUEUES[q] })),
  ];
  // Only the activity modules of the polled queues are imported (workers/activities.ts); a
  // legacy queue shares its successor's.
  const activitiesOf = new Map<TaskQueue, Promise<object>>();
  for (const { like } of polled) if (!activitiesOf.has(like)) activitiesOf.set(like, loadQueueActivities(like, opts.deps));
  const workers = await Promise.all(
    polled.map(async ({ taskQueue, like }) =>
      Worker.create({
        connection,
        namespace: opts.namespace,
        taskQueue,
        activities: await activitiesOf.get(like)!,
        ...(await queueWorkerOptions(like, { tuning: opts.tuning, sharedBundle })),
      }),
    ),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  let closing: Promise<void> | undefined;
  return {
    done,
    shutdown() {
      closing ??= (async () => {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await done.catch(() => {});
        await connection.close();
      })();
      return closing;
    },
  };
}
