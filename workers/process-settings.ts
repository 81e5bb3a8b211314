/**
 * Process settings of the reminders worker group (`worker-timers`: WORKER_QUEUES with
 * gestation and health, whose workflows sleep for weeks). They must be in the environment
 * before node starts (glibc reads MALLOC_ARENA_MAX at start, V8 its heap flags when an
 * isolate is made), so they live in the deployment files: k8s/base/workers.yaml and
 * docker-compose.yml set exactly these on worker-timers (test/unit/reminders-worker-process.test.ts
 * checks it), and the sleeping-workflow benches run their worker child with them.
 *
 * Measured with `npm run bench -- --only=health` (README "Reminders worker"):
 * - MALLOC_ARENA_MAX=2: glibc otherwise gives each thread that allocates (the Temporal core's
 *   tokio threads, the workflow thread, libuv's pool) an arena of its own, up to 8 per core,
 *   and freed memory stays in each arena: with 2 arenas the native part after the start burst
 *   is smaller.
 * - --max-semi-space-size=1 (MB): V8's young generation (per isolate: the main thread and the
 *   workflow thread) grows to 16 MB semi-spaces under the burst of first workflow tasks and
 *   keeps the pages; 1 MB semi-spaces cost more scavenges, which a worker of sleeping
 *   workflows has few of.
 */
export const REMINDERS_WORKER_PROCESS_ENV = {
  MALLOC_ARENA_MAX: '2',
  NODE_OPTIONS: '--max-semi-space-size=1',
} as const;
