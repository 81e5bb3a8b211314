/**
 * Process settings of every worker deployment (k8s/base/workers.yaml: worker-analysis,
 * worker-accounts-billing, worker-timers, worker-marketplace; the same services in
 * docker-compose.yml). They must be in the environment before node starts (glibc reads
 * MALLOC_ARENA_MAX at start, V8 its heap flags when an isolate is made), so they live in the
 * deployment files; test/unit/worker-process-settings.test.ts checks that every worker there
 * sets exactly these, and the benches run their compiled workers with them
 * (bench/production.ts, the sleeping-workflow benches).
 *
 * Measured first on the reminders group (`npm run bench -- --only=health`, README "Reminders
 * worker"), then on every group and on the every-queue worker (bench/production.ts,
 * README "Running in production"):
 * - MALLOC_ARENA_MAX=2: glibc otherwise gives each thread that allocates (the Temporal core's
 *   tokio threads, the workflow threads, libuv's pool) an arena of its own, up to 8 per core,
 *   and freed memory stays in each arena: with 2 arenas the native part after a burst is smaller.
 * - --max-semi-space-size=1 (MB): V8's young generation (per isolate: the main thread and each
 *   workflow thread) grows to 16 MB semi-spaces under a burst of workflow tasks and keeps the
 *   pages; 1 MB semi-spaces cost more scavenges.
 */
export const WORKER_PROCESS_ENV = {
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-semi-space-size=1',
} as const;

/** The reminders group's settings are every worker's now (kept for the benches that name them). */
export const REMINDERS_WORKER_PROCESS_ENV = WORKER_PROCESS_ENV;
