/**
 * Benchmark: the production build (`npm run build`, plain `node --enable-source-maps dist/…`
 * as `npm start` / `npm run start:worker` run it) against today's tsx entrypoints
 * (`node --import tsx api/server.ts` / `workers/main.ts`, as scripts/dev-stack.ts runs them),
 * side by side in the same run, on the same Postgres and Temporal dev server:
 *
 *   start-up   spawn → ready: the API answers 200 on /api/health (database and Temporal
 *              reached); the worker has a poller on every task queue (Temporal's
 *              DescribeTaskQueue lists the process's identity, `<pid>@<host>`)
 *   idle RSS   the highest VmRSS sampled over IDLE_SECONDS after ready
 *   loaded RSS the highest VmRSS sampled while loaded: the API under autocannon
 *              (GET /api/horses/:id with a JWT, 32 connections); the worker through a
 *              burst of welcomeWorkflow runs (3 activities each, real database writes),
 *              until every run has completed
 *
 * Production process settings: the compiled worker runs as the deployments run it, with
 * workers/process-settings.ts WORKER_PROCESS_ENV (MALLOC_ARENA_MAX=2,
 * NODE_OPTIONS=--max-semi-space-size=1, set on every worker in k8s/base/workers.yaml and
 * docker-compose.yml), so the compiled worker rows include those settings. The tsx baseline
 * runs as `npm run dev` runs it: no such settings. BENCH_PROCESS_SETTINGS_AB=1 also runs the
 * compiled worker WITHOUT them in every round and group (printed, not in the table): what the
 * settings change, measured in the same run.
 *
 * Then the compiled worker of each k8s worker group (every Deployment of k8s/base/workers.yaml
 * with its WORKER_QUEUES and its other env, read from the file): start-up and idle RSS (loaded
 * RSS for the group that polls accounts), which the manifests' resource requests are derived from.
 *
 * Rounds alternate which variant goes first, so a neighbour's burst on the shared machine
 * hits both alike; each figure is the median of the rounds. Only one API or worker process
 * runs at a time. Prints figures, asserts nothing.
 *
 *   npm run bench -- --only=production          # quick: 2 rounds, 200 workflows, 5 s of load
 *   npm run bench -- --only=production --full   # 4 rounds, 1,000 workflows, 10 s of load
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startEmbeddedPostgres } from '../scripts/lib/postgres';
import { startTemporalDevServer } from '../scripts/lib/temporal';
import { startService, type Service } from '../scripts/lib/process';
import { freePort } from '../scripts/lib/ports';
import { createOrm, migrate } from '../entities/orm';
import { apiClient, registerUser } from '../test/support/http';
import { ALL_TASK_QUEUES, TaskQueue } from '../workflows/queues';
import { WORKER_PROCESS_ENV } from '../workers/process-settings';
import { benchMode, reportBench } from './lib/report';
import { load, type LoadFigures } from './lib/load';

const full = benchMode() === 'full';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (full ? 4 : 2));
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? (full ? 10 : 5));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WORKFLOWS = Number(process.env.BENCH_WORKFLOWS ?? (full ? 1000 : 200));
const IDLE_SECONDS = 3;
const SETTINGS_AB = process.env.BENCH_PROCESS_SETTINGS_AB === '1';
const logDir = resolve('.data/bench/logs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

type Variant = 'compiled' | 'tsx';
/** A compiled worker run: as deployed (the process settings) or, with BENCH_PROCESS_SETTINGS_AB, without them. */
type WorkerVariant = Variant | 'compiled-no-settings';

/**
 * The worker Deployments of k8s/base/workers.yaml: name, queues (WORKER_QUEUES) and the rest of
 * their literal env (process settings such as MALLOC_ARENA_MAX), so each group runs here as it is
 * deployed. The metrics listener settings are left out (the bench runs several workers in turn).
 */
function k8sWorkerGroups(): { name: string; queues: TaskQueue[]; env: Record<string, string> }[] {
  const groups = [];
  for (const doc of readFileSync('k8s/base/workers.yaml', 'utf8').split(/^---$/m)) {
    if (!/^kind: Deployment$/m.test(doc)) continue;
    const name = /^ {2}name: (\S+)$/m.exec(doc)?.[1];
    const env = Object.fromEntries([...doc.matchAll(/- \{ name: (\w+), value: ("[^"]*"|[^ }]+) \}/g)].map((m) => [m[1], m[2].replace(/^"(.*)"$/, '$1')]));
    if (!name || !env.WORKER_QUEUES) continue;
    const queues = env.WORKER_QUEUES.split(',') as TaskQueue[];
    for (const k of ['WORKER_QUEUES', 'WORKER_METRICS_HOST', 'WORKER_METRICS_PORT']) delete env[k];
    groups.push({ name, queues, env });
  }
  if (!groups.length) throw new Error('no worker Deployment with WORKER_QUEUES in k8s/base/workers.yaml');
  return groups;
}
const K8S_WORKER_GROUPS = k8sWorkerGroups();
/** How each variant starts a process: `npm start` / `npm run start:worker` vs scripts/dev-stack.ts. */
const COMMANDS: Record<Variant, Record<'api' | 'worker', string[]>> = {
  compiled: { api: ['--enable-source-maps', 'dist/api.js'], worker: ['--enable-source-maps', 'dist/worker.js'] },
  tsx: { api: ['--import', 'tsx', 'api/server.ts'], worker: ['--import', 'tsx', 'workers/main.ts'] },
};

/** Resident set size of one process, MB (Linux /proc). */
function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  if (!line) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(line[1]) / 1024;
}

/** Samples a process's RSS every 100 ms until stop() and returns the highest sample. */
function rssPeak(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // the process exited; stop() reports what was seen
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

async function idleRss(pid: number): Promise<number> {
  const sampler = rssPeak(pid);
  await sleep(IDLE_SECONDS * 1000);
  return sampler.stop();
}

function spawnNode(name: string, args: string[], env: Record<string, string>): Service {
  // NODE_OPTIONS only as given (else empty): nothing (tsx) is preloaded into the compiled process
  // from our environment. MALLOC_ARENA_MAX likewise comes only from `env` (the bench's own
  // environment does not set it; an empty value would not mean "unset" to glibc).
  return startService(name, process.execPath, args, { env: { ...env, NODE_OPTIONS: env.NODE_OPTIONS ?? '' }, logFile: join(logDir, `production-${name}.log`) });
}

/** Polls until ready() is true; throws with the log file's name if the process exits first. */
async function untilReady(service: Service, what: string, ready: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  let exited: number | null | undefined;
  void service.exited.then((code) => (exited = code));
  for (;;) {
    if (exited !== undefined) throw new Error(`${what} exited (${exited}) before ready; see ${join(logDir, `production-${service.name}.log`)}`);
    if (await ready().catch(() => false)) return performance.now() - t0;
    if (performance.now() - t0 > 180_000) throw new Error(`${what} not ready after 180 s`);
    await sleep(20);
  }
}

interface Fixture {
  path: string;
  token: string;
  userId: string;
}
interface ApiFigures {
  startMs: number;
  idleMb: number;
  loadedMb: number;
  load: LoadFigures;
}
interface WorkerFigures {
  startMs: number;
  idleMb: number;
  loadedMb: number;
  burstSeconds: number;
}

const storageDir = mkdtempSync(join(tmpdir(), 'horse-tempo-bench-production-'));
console.log(`building: npm run build`);
const built = execFileSync('npm', ['run', '--silent', 'build'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
console.log(`  ${built.trim().split('\n').pop()}`);

const pg = await startEmbeddedPostgres({ persistent: false, database: 'horse_tempo_bench_production' });
const temporal = await startTemporalDevServer({ logFile: join(logDir, 'production-temporal.log') });
const connection = await Connection.connect({ address: temporal.address });
const client = new Client({ connection });
try {
  const orm = await createOrm({ databaseUrl: pg.url, poolMax: 2 });
  await migrate(orm);
  await orm.close();
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: pg.url,
    TEMPORAL_ADDRESS: temporal.address,
    JWT_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    STORAGE_DRIVER: 'local',
    STORAGE_DIR: storageDir,
    // The limiter stays in the chain; its limit is out of the way of the load.
    RATE_LIMIT_MAX: '1000000000',
    AUTH_RATE_LIMIT_MAX: '1000000',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    HOST: '127.0.0.1',
  };

  async function runApi(variant: Variant, fixture?: Fixture): Promise<ApiFigures & { fixture: Fixture }> {
    const port = await freePort();
    const service = spawnNode(`api-${variant}`, COMMANDS[variant].api, { ...env, PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    try {
      const startMs = await untilReady(service, `${variant} API`, async () => (await fetch(`${url}/api/health`)).status === 200);
      const pid = service.child.pid!;
      const idleMb = await idleRss(pid);
      if (!fixture) {
        const api = apiClient(url);
        const user = await registerUser(api);
        const horse = await api.post('/api/horses', { name: 'Bench Horse', gender: 'mare', breed: 'KWPN', birthDate: '2018-04-02' }, user.accessToken);
        if (horse.status !== 201) throw new Error(`create horse: ${horse.status} ${JSON.stringify(horse.body)}`);
        fixture = { path: `/api/horses/${horse.body.id}`, token: user.accessToken, userId: user.user.id as string };
      }
      const sampler = rssPeak(pid);
      const figures = await load({ url: `${url}${fixture.path}`, headers: { authorization: `Bearer ${fixture.token}` }, connections: CONNECTIONS, seconds: LOAD_SECONDS });
      const loadedMb = sampler.stop();
      return { startMs, idleMb, loadedMb, load: figures, fixture };
    } finally {
      await service.stop();
    }
  }

  /** Every task queue lists a poller with this process's identity. */
  async function polling(pid: number, queues: readonly string[]): Promise<boolean> {
    const identity = `${pid}@${hostname()}`;
    for (const queue of queues) {
      const res = await connection.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: queue }, taskQueueType: 1 });
      if (!res.pollers?.some((p) => p.identity === identity)) return false;
    }
    return true;
  }

  /**
   * One worker process: all queues by default, or one k8s queue group (WORKER_QUEUES and the
   * Deployment's env); a burst only when it polls accounts. The compiled worker runs with the
   * production process settings (WORKER_PROCESS_ENV, or the group's own env), tsx without.
   */
  async function runWorker(variant: WorkerVariant, round: number, userId: string, queues: readonly string[] = ALL_TASK_QUEUES, groupEnv: Record<string, string> = WORKER_PROCESS_ENV): Promise<WorkerFigures> {
    const group = queues === ALL_TASK_QUEUES ? '' : queues.join(',');
    const settings = variant === 'compiled' ? groupEnv : {};
    const command = COMMANDS[variant === 'tsx' ? 'tsx' : 'compiled'].worker;
    const service = spawnNode(`worker-${variant}${group ? `-${group}` : ''}`, command, { ...env, ...settings, WORKER_QUEUES: group });
    try {
      const pid = service.child.pid!;
      const startMs = await untilReady(service, `${variant} worker ${group}`, () => polling(pid, queues));
      const idleMb = await idleRss(pid);
      if (!queues.includes(TaskQueue.accounts)) return { startMs, idleMb, loadedMb: NaN, burstSeconds: NaN };
      const sampler = rssPeak(pid);
      const t0 = performance.now();
      // The same user for every run: the email and the in-app notification are idempotent by
      // key, so each run still reads the profile, claims the outbox key and writes, then completes.
      let next = 0;
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          for (let i = next++; i < WORKFLOWS; i = next++) {
            const handle = await client.workflow.start('welcomeWorkflow', {
              taskQueue: TaskQueue.accounts,
              workflowId: `bench-welcome-${variant}-${group || 'all'}-${round}-${i}-${Date.now().toString(36)}`,
              args: [{ userId }],
            });
            await handle.result();
          }
        }),
      );
      const burstSeconds = (performance.now() - t0) / 1000;
      const loadedMb = sampler.stop();
      return { startMs, idleMb, loadedMb, burstSeconds };
    } finally {
      await service.stop();
    }
  }

  // Fixture (a user and a horse) through the compiled API, then a warm-up round of each
  // variant (page cache, tsx's transform cache): none of it counted.
  console.log('warm-up: one API and one worker start of each variant (not counted)');
  const { fixture } = await runApi('compiled');
  await runApi('tsx', fixture);
  for (const v of ['compiled', 'tsx'] as const) await runWorker(v, 0, fixture.userId);

  const api: Record<Variant, ApiFigures[]> = { compiled: [], tsx: [] };
  const worker: Record<WorkerVariant, WorkerFigures[]> = { compiled: [], tsx: [], 'compiled-no-settings': [] };
  console.log(`${ROUNDS} rounds, alternating order; API load: GET ${fixture.path}, ${CONNECTIONS} connections, ${LOAD_SECONDS} s; worker burst: ${WORKFLOWS} welcomeWorkflow runs`);
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Variant[] = round % 2 ? ['compiled', 'tsx'] : ['tsx', 'compiled'];
    for (const v of order) {
      const a = await runApi(v, fixture);
      api[v].push(a);
      console.log(`  round ${round} ${v.padEnd(8)} API    ready ${a.startMs.toFixed(0)} ms, idle ${a.idleMb.toFixed(0)} MB, loaded ${a.loadedMb.toFixed(0)} MB (${a.load.rps.toFixed(0)} req/s, p99 ${a.load.p99} ms)`);
    }
    const workerOrder: WorkerVariant[] = SETTINGS_AB ? (round % 2 ? [...order, 'compiled-no-settings'] : ['compiled-no-settings', ...order]) : order;
    for (const v of workerOrder) {
      const w = await runWorker(v, round, fixture.userId);
      worker[v].push(w);
      console.log(`  round ${round} ${v.padEnd(8)} worker ready ${w.startMs.toFixed(0)} ms, idle ${w.idleMb.toFixed(0)} MB, loaded ${w.loadedMb.toFixed(0)} MB (${WORKFLOWS} runs in ${w.burstSeconds.toFixed(1)} s)`);
    }
  }

  // The k8s worker groups (k8s/base/workers.yaml), compiled: what their resource requests are derived from.
  const groups: Record<string, WorkerFigures[]> = {};
  const groupsWithout: Record<string, WorkerFigures[]> = {};
  for (const group of K8S_WORKER_GROUPS) {
    const name = group.queues.join(',');
    const settings = Object.entries(group.env).map(([k, v]) => `${k}=${v}`).join(' ') || 'no process settings';
    for (let round = 1; round <= Math.max(1, ROUNDS / 2); round++) {
      const order: WorkerVariant[] = SETTINGS_AB ? (round % 2 ? ['compiled', 'compiled-no-settings'] : ['compiled-no-settings', 'compiled']) : ['compiled'];
      for (const v of order) {
        const w = await runWorker(v, 100 + round, fixture.userId, group.queues, group.env);
        ((v === 'compiled' ? groups : groupsWithout)[name] ??= []).push(w);
        const how = v === 'compiled' ? settings : 'without process settings';
        console.log(`  k8s ${group.name} (${name}) compiled, ${how}: ready ${w.startMs.toFixed(0)} ms, idle ${w.idleMb.toFixed(0)} MB${Number.isNaN(w.loadedMb) ? '' : `, loaded ${w.loadedMb.toFixed(0)} MB (${WORKFLOWS} runs in ${w.burstSeconds.toFixed(1)} s)`}`);
      }
    }
  }

  const med = <T>(xs: T[], f: (x: T) => number) => median(xs.map(f));
  const workerLine = (figures: WorkerFigures[]) => {
    const loaded = med(figures, (w) => w.loadedMb);
    return `ready ${med(figures, (w) => w.startMs).toFixed(0)} ms, idle ${med(figures, (w) => w.idleMb).toFixed(0)} MB${Number.isNaN(loaded) ? '' : `, loaded ${loaded.toFixed(0)} MB, burst ${med(figures, (w) => w.burstSeconds).toFixed(1)} s`}`;
  };
  console.log('\nk8s worker groups, compiled, as deployed (median):');
  for (const [name, figures] of Object.entries(groups)) console.log(`  ${name.padEnd(26)} ${workerLine(figures)}`);
  if (SETTINGS_AB) {
    console.log('\nprocess settings, same run (median): with / without');
    console.log(`  every queue                ${workerLine(worker.compiled)}  /  ${workerLine(worker['compiled-no-settings'])}`);
    for (const [name, figures] of Object.entries(groups)) console.log(`  ${name.padEnd(26)} ${workerLine(figures)}  /  ${workerLine(groupsWithout[name] ?? [])}`);
  }
  const label = { api: 'node --import tsx api/server.ts (npm run dev)', worker: 'node --import tsx workers/main.ts (npm run dev): bundles the workflows at start; ours runs with the production process settings' };
  const extra = { rounds: ROUNDS, connections: CONNECTIONS, loadSeconds: LOAD_SECONDS, workflows: WORKFLOWS, processSettings: WORKER_PROCESS_ENV, api, worker, groups, ...(SETTINGS_AB ? { groupsWithoutProcessSettings: groupsWithout } : {}) };
  const rows: [string, 'api' | 'worker', keyof ApiFigures & keyof WorkerFigures, string, number][] = [
    ['API start-up to ready (/api/health 200)', 'api', 'startMs', 'ms', 1],
    ['API idle RSS', 'api', 'idleMb', 'MB', 1],
    [`API loaded RSS (autocannon ${CONNECTIONS} connections)`, 'api', 'loadedMb', 'MB', 1],
    ['worker start-up to polling (every queue)', 'worker', 'startMs', 'ms', 0.5],
    [`worker loaded RSS (${WORKFLOWS} welcome workflows)`, 'worker', 'loadedMb', 'MB', 0.75],
    ['worker idle RSS', 'worker', 'idleMb', 'MB', 0.75],
  ];
  for (const [name, proc, key, unit, goal] of rows) {
    const figures = proc === 'api' ? api : worker;
    reportBench({
      name: `compiled ${name}`,
      ours: med(figures.compiled as (ApiFigures | WorkerFigures)[], (x) => x[key]),
      baseline: med(figures.tsx as (ApiFigures | WorkerFigures)[], (x) => x[key]),
      unit,
      goal,
      higherIsBetter: false,
      baselineLabel: label[proc],
      extra,
    });
  }
} finally {
  await connection.close();
  await temporal.stop();
  await pg.stop();
  rmSync(storageDir, { recursive: true, force: true });
}
