import type { Config } from '../config';
import type { MikroORM } from '../entities/orm';
import type { Logger } from '../adapters/logger';
import type { Mailer } from '../adapters/email/mailer';
import type { Stripe } from '../adapters/stripe';
import type { StoragePort } from '../adapters/storage/port';
import type { AiClients } from '../adapters/ai/types';
import type { TaskQueue } from '../workflows/queues';

/**
 * What activities need from the outside world; the worker entrypoint (or a test) wires it.
 * The entrypoint creates only the adapters its queues use (workers/main.ts), so a reminders
 * worker never loads the AI or Stripe SDKs: a queue whose activities need a missing one
 * fails at start, naming it.
 */
export interface WorkerDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  mailer: Mailer;
  /** null when STRIPE_SECRET_KEY is unset (billing activities retry until it is); undefined when not loaded. */
  stripe?: Stripe | null;
  storage?: StoragePort;
  ai?: AiClients;
}

/** The adapters a queue's activities need beyond config, orm, logger and mailer. */
export const QUEUE_ADAPTERS: Record<TaskQueue, readonly ('storage' | 'ai' | 'stripe')[]> = {
  accounts: [],
  analysis: ['storage', 'ai'],
  billing: ['stripe'],
  gestation: [],
  marketplace: [],
  health: ['storage'],
};

function need<T>(value: T | undefined, name: string, queue: TaskQueue): T {
  if (value === undefined) throw new Error(`the ${queue} activities need the ${name} adapter, which this worker did not create (workers/activities.ts QUEUE_ADAPTERS)`);
  return value;
}

/**
 * The activities of each task queue's workflows, imported when a worker polls the queue
 * (dynamic import): a worker running only the reminder queues never loads the analysis,
 * billing, accounts or marketplace modules (nor, through them, ffmpeg helpers and the AI
 * and Stripe SDKs). Each loader returns what its queue's workflows proxy: accounts (welcome,
 * account emails, free credits, reconciles), analysis (analyzeVideo, analysisReconcile),
 * billing (subscriptionLifecycle, billingReconcile), gestation (gestationTracking),
 * marketplace (listingLifecycle, marketplaceReconcile), health (healthReminders,
 * healthReconcile). test/unit/worker-activities.test.ts checks every activity a queue's
 * workflows name is there.
 */
/**
 * This file's CommonJS `module` when it runs as CommonJS: mocha loads the tests' TypeScript
 * through tsx as CommonJS, and an `import()` from there would load a second, ESM copy of the
 * entities that the test's ORM does not know (MikroORM then fails with "Cannot read
 * properties of undefined (reading 'filter')"). The entrypoints (tsx, dist/) are ESM: null.
 */
const commonJsModule: NodeJS.Module | null = typeof module === 'object' && module !== null && typeof module.require === 'function' ? module : null;

/** `import()` of a module (`require` when this file runs as CommonJS, see above). */
function load<T>(specifier: string, esm: () => Promise<T>): Promise<T> {
  return commonJsModule ? Promise.resolve(commonJsModule.require(specifier) as T) : esm();
}

export const QUEUE_ACTIVITIES = {
  async accounts(deps: WorkerDeps) {
    const [{ createAccountsActivities }, { createAccountEmailActivities }, { createNotifyActivities }] = await Promise.all([
      load('../activities/accounts', () => import('../activities/accounts')),
      load('../activities/accounts/emails', () => import('../activities/accounts/emails')),
      load('../activities/notify', () => import('../activities/notify')),
    ]);
    return { ...createAccountsActivities(deps), ...createAccountEmailActivities(deps), ...createNotifyActivities(deps) };
  },
  async analysis(deps: WorkerDeps) {
    const [{ createAnalysisActivities }, { createAnalysisReconcileActivities }, { createAnalysisNoticeActivities }] = await Promise.all([
      load('../activities/analysis', () => import('../activities/analysis')),
      load('../activities/analysis/reconcile', () => import('../activities/analysis/reconcile')),
      load('../activities/analysis/notices', () => import('../activities/analysis/notices')),
    ]);
    const full = { ...deps, storage: need(deps.storage, 'storage', 'analysis'), ai: need(deps.ai, 'ai', 'analysis') };
    return { ...createAnalysisActivities(full), ...createAnalysisReconcileActivities(deps), ...createAnalysisNoticeActivities(deps) };
  },
  async billing(deps: WorkerDeps) {
    const [{ createBillingActivities }, { createBillingSignalActivities }, { createNotifyActivities }] = await Promise.all([
      load('../activities/billing', () => import('../activities/billing')),
      load('../activities/billing/signal', () => import('../activities/billing/signal')),
      load('../activities/notify', () => import('../activities/notify')),
    ]);
    return { ...createBillingActivities({ ...deps, stripe: need(deps.stripe, 'stripe', 'billing') }), ...createBillingSignalActivities(deps), ...createNotifyActivities(deps) };
  },
  async gestation(deps: WorkerDeps) {
    const { createGestationActivities } = await load('../activities/gestation', () => import('../activities/gestation'));
    return createGestationActivities(deps);
  },
  async marketplace(deps: WorkerDeps) {
    const [{ createMarketplaceActivities }, { createMarketplaceReconcileActivities }] = await Promise.all([load('../activities/marketplace', () => import('../activities/marketplace')), load('../activities/marketplace/reconcile', () => import('../activities/marketplace/reconcile'))]);
    return { ...createMarketplaceActivities(deps), ...createMarketplaceReconcileActivities(deps) };
  },
  async health(deps: WorkerDeps) {
    const [{ createHealthActivities }, { createHealthReconcileActivities }, { createStorageOrphanActivities }] = await Promise.all([
      load('../activities/health', () => import('../activities/health')),
      load('../activities/health/reconcile', () => import('../activities/health/reconcile')),
      load('../activities/storage/orphans', () => import('../activities/storage/orphans')),
    ]);
    return {
      ...createHealthActivities(deps),
      ...createHealthReconcileActivities(deps),
      ...createStorageOrphanActivities({ ...deps, storage: need(deps.storage, 'storage', 'health') }),
    };
  },
} satisfies Record<TaskQueue, (deps: WorkerDeps) => Promise<object>>;

/**
 * The storage, AI and Stripe adapters the served queues' activities use, imported only
 * then: a reminders worker (WORKER_QUEUES=health or gestation) loads none of the AI or
 * Stripe SDKs. The worker entrypoint and the sleeping-workflow benches (which must pay the
 * same imports as production) both create them here.
 */
export async function createQueueAdapters(queues: readonly TaskQueue[], config: Config): Promise<Pick<WorkerDeps, 'storage' | 'ai' | 'stripe'>> {
  const needed = new Set(queues.flatMap((q) => QUEUE_ADAPTERS[q]));
  const adapters: Pick<WorkerDeps, 'storage' | 'ai' | 'stripe'> = {};
  if (needed.has('storage')) adapters.storage = (await load('../adapters/storage', () => import('../adapters/storage'))).createStorage(config);
  if (needed.has('ai')) adapters.ai = (await load('../adapters/ai', () => import('../adapters/ai'))).createAiClients(config);
  if (needed.has('stripe')) adapters.stripe = (await load('../adapters/stripe', () => import('../adapters/stripe'))).createStripeClient(config);
  return adapters;
}

export type QueueActivities<Q extends TaskQueue> = Awaited<ReturnType<(typeof QUEUE_ACTIVITIES)[Q]>>;

/** The activities of one queue's workflows (imported on first use). */
export function loadQueueActivities<Q extends TaskQueue>(queue: Q, deps: WorkerDeps): Promise<QueueActivities<Q>> {
  return QUEUE_ACTIVITIES[queue](deps) as Promise<QueueActivities<Q>>;
}
