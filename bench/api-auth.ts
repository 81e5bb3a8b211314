/**
 * Authenticated GET /api/horses/:id: the product's API (api/server.ts, as deployed: every
 * middleware, production log level) against a bare Express + pg server doing the same work
 * (bench/baselines/bare-horse-server.ts: verify the HS256 JWT, load the user and the
 * memberships, load the horse). Both run as child processes on the same Postgres, loaded
 * by autocannon with the same connections and duration, alternating rounds in one run.
 *
 * Warm-up: before the measured rounds each side serves one un-timed round of the same length
 * and load. It warms what a replica that has served traffic for a while has warm: V8's
 * optimized code for the hot path (the first seconds run in the interpreter and baseline
 * tiers), the pg pool's connections (opened on demand), the heap grown to its working size
 * (a fresh heap runs more full collections while it grows) and, for ours, the auth cache
 * (AUTH_CACHE_TTL_SECONDS; it still expires and reloads during the rounds, as in production).
 * With only 3 s of warm-up each (until 2026-12-03) the first measured round of ours had p99
 * 74 ms against 40-43 ms in the next two (7fd5b9a).
 * Aggregation, the same for both sides: throughput averaged over the rounds, p50 and p99 the
 * median of the per-round figures (bench/lib/load.ts `combine`).
 *
 *   tsx bench/api-auth.ts                 # quick: 5 alternating rounds of 5 s each
 *   tsx bench/api-auth.ts --full          # 7 alternating rounds of 10 s each
 *   tsx bench/api-auth.ts --profile       # + a V8 CPU profile of our API under load
 *                                         #   (.data/bench/profiles/*.cpuprofile, summary printed)
 *
 * Extra env for our API (e.g. AUTH_CACHE_TTL_SECONDS=0) passes through. Prints figures, asserts nothing.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startEmbeddedPostgres } from '../scripts/lib/postgres';
import { createOrm, migrate } from '../entities/orm';
import { apiClient, registerUser } from '../test/support/http';
import { benchMode, reportBench } from './lib/report';
import { combine, describe, load, startChildServer, type ChildServer, type LoadFigures } from './lib/load';
import { summarizeProfile } from './lib/profile';

const full = benchMode() === 'full';
const profile = process.argv.includes('--profile');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
// Short alternating rounds: on a shared machine a neighbour's burst then hits both sides alike.
const SECONDS = Number(process.env.BENCH_SECONDS ?? (full ? 10 : 5));
// Odd, so the median of the rounds is one round's figure.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (full ? 7 : 5));
const JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
const logDir = resolve('.data/bench/logs');
const profileDir = resolve('.data/bench/profiles', new Date().toISOString().replace(/[:.]/g, '-'));
mkdirSync(logDir, { recursive: true });

const pg = await startEmbeddedPostgres({ persistent: false, database: 'horse_tempo_bench_api' });
const servers: ChildServer[] = [];
try {
  const orm = await createOrm({ databaseUrl: pg.url, poolMax: 2 });
  await migrate(orm);
  await orm.close();

  const env = {
    DATABASE_URL: pg.url,
    JWT_SECRET,
    // The limiter stays in the chain (its cost is measured); its limit is out of the way.
    RATE_LIMIT_MAX: '1000000000',
    AUTH_RATE_LIMIT_MAX: '1000000',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    NODE_ENV: 'production',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  };
  const ours = await startChildServer('api', 'api/server.ts', env, {
    logFile: join(logDir, 'api-auth-api.log'),
    nodeFlags: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  servers.push(ours);
  const bare = await startChildServer('bare', 'bench/baselines/bare-horse-server.ts', env, { logFile: join(logDir, 'api-auth-bare.log') });
  servers.push(bare);

  const api = apiClient(ours.url);
  const user = await registerUser(api);
  const created = await api.post('/api/horses', { name: 'Bench Horse', gender: 'mare', breed: 'KWPN', birthDate: '2018-04-02' }, user.accessToken);
  if (created.status !== 201) throw new Error(`create horse: ${created.status} ${JSON.stringify(created.body)}`);
  const path = `/api/horses/${created.body.id}`;
  const headers = { authorization: `Bearer ${user.accessToken}` };
  for (const s of [ours, bare]) {
    const res = await fetch(`${s.url}${path}`, { headers });
    if (res.status !== 200) throw new Error(`${s.url}${path}: ${res.status} ${await res.text()}`);
  }

  console.log(`GET ${path}, autocannon ${CONNECTIONS} connections, ${ROUNDS} round(s) of ${SECONDS} s each, alternating, after one un-timed round each`);
  const run = (s: ChildServer, seconds: number) => load({ url: `${s.url}${path}`, headers, connections: CONNECTIONS, seconds, serverPid: s.pid });
  // Warm-up round, the same length and load for both sides (see the header): not counted.
  console.log(`  warm-up ours: ${describe(await run(ours, SECONDS))}`);
  console.log(`  warm-up bare: ${describe(await run(bare, SECONDS))}`);
  const oursRounds: LoadFigures[] = [];
  const bareRounds: LoadFigures[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    oursRounds.push(await run(ours, SECONDS));
    console.log(`  round ${i + 1} ours: ${describe(oursRounds[i])}`);
    bareRounds.push(await run(bare, SECONDS));
    console.log(`  round ${i + 1} bare: ${describe(bareRounds[i])}`);
  }
  const o = combine(oursRounds);
  const b = combine(bareRounds);
  console.log(`server CPU per request: ours ${o.cpuMsPerRequest?.toFixed(2)} ms, bare ${b.cpuMsPerRequest?.toFixed(2)} ms`);
  console.log(`p99 per round: ours ${oursRounds.map((r) => r.p99).join(', ')} ms, bare ${bareRounds.map((r) => r.p99).join(', ')} ms (median of each reported)`);
  const extra = { connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, aggregation: 'rps mean, p50/p99 median of rounds', ours: o, baseline: b, oursRounds, bareRounds };
  reportBench({ name: 'GET /api/horses/:id (JWT) throughput', ours: o.rps, baseline: b.rps, unit: 'req/s', goal: 0.75, higherIsBetter: true, baselineLabel: 'bare Express + pg, same work', extra });
  reportBench({ name: 'GET /api/horses/:id (JWT) p99', ours: o.p99, baseline: b.p99, unit: 'ms', goal: 1.3, higherIsBetter: false, baselineLabel: 'bare Express + pg, same work', extra });
} finally {
  for (const s of servers) await s.stop();
  await pg.stop();
}
if (profile) {
  const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  for (const f of files) {
    console.log(`\nCPU profile of our API under load: ${join(profileDir, f)}`);
    // The first part of the timeline is module loading (tsx compiling) and the warm-up: skipped,
    // so the figures describe the server under load (PROFILE_SKIP=0 keeps everything).
    console.log(summarizeProfile(join(profileDir, f), 25, Number(process.env.PROFILE_SKIP ?? 0.4)));
  }
}
