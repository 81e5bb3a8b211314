/**
 * POST /api/analyses → workflow started, against a raw `client.workflow.start` loop on the
 * same Temporal server in the same run. The API answers 202 only after the Analysis row and
 * its credit reservation are committed AND Temporal accepted the analyzeVideo start, so the
 * request time is that latency. The raw loop starts the same workflow with the same options
 * (workflows/analysis/start.ts) and nothing else. No worker polls: workflows stay started and
 * the figures are not mixed with ffmpeg/AI work. Our API runs as a child process
 * (bench/lib/api-child.ts): the HTTP client's CPU stays in this process, as a browser's
 * stays on the user's machine. The raw loop uses a client built exactly like the API's
 * (apiTemporalGateway: same kind of connection, same deadline and retry settings).
 *
 *   tsx bench/api-latency.ts                 # quick: 3 alternating rounds of 5 s, concurrency 8
 *   tsx bench/api-latency.ts --full          # 5 rounds of 10 s
 *   tsx bench/api-latency.ts --profile       # + database statements per start (every SQL text
 *                                            # of one start) and a V8 CPU profile of the API
 *                                            # (.data/bench/profiles/<time>/*.cpuprofile, summary printed)
 *   BENCH_CONCURRENCY=4 tsx bench/api-latency.ts
 *   BENCH_ACCOUNTS=1 tsx bench/api-latency.ts   # every start from one account (default: one per caller)
 *
 * Accounts: by default each concurrent caller's starts come from its own account (its own
 * personal organization), as real traffic does. The per-account and per-organization start
 * limits are race-free because an account's starts take that account's lock, so ONE account's
 * concurrent starts queue behind each other: with BENCH_ACCOUNTS=1 the figure is that
 * account's ceiling (one start per lock hold), not the API's. The raw loop starts the same
 * workflow for the same accounts.
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestStack } from '../test/support/stack';
import { apiClient, registerUser } from '../test/support/http';
import { createHorse, testVideos, uploadVideo } from '../test/support/analysis';
import { stopInfra } from '../test/support/infra';
import { grantPeriodCredits } from '../entities/credit-ledger';
import { startAnalysisWorkflow } from '../workflows/analysis/client';
import { benchMode, reportBench } from './lib/report';
import { alternatingRounds, closedLoop } from './lib/closed-loop';
import { startApiChild } from './lib/api-child';
import { cpuSecondsOf } from './lib/load';
import { summarizeProfile } from './lib/profile';
import { countQueries } from './lib/count-queries';

const full = benchMode() === 'full';
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (full ? 10 : 5));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (full ? 5 : 3));
const PROFILE = process.argv.includes('--profile');
const ACCOUNTS = Math.max(1, Number(process.env.BENCH_ACCOUNTS ?? CONCURRENCY));

Runtime.install({ logger: new DefaultLogger('ERROR') });
// The per-account and per-organization start limits stay in the path (their count query is
// measured) with a ceiling the bench never reaches.
const benchEnv = { ANALYSIS_STARTS_PER_USER_PER_HOUR: '1000000', ANALYSIS_STARTS_PER_ORG_PER_HOUR: '1000000' };
const stack = await startTestStack({ workers: false, env: benchEnv });
const profileDir = resolve('.data/bench/profiles', new Date().toISOString().replace(/[:.]/g, '-'));
const child = await startApiChild(stack, 'analyses-api', benchEnv, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
try {
  // Set-up goes through the in-process API (same database); the measured load goes to the child.
  const setup = apiClient(stack.baseUrl);
  const api = apiClient(child.url);
  // One account per caller (see the header): registered, confirmed, credited, with a horse and
  // an uploaded video each.
  const accounts: { user: Awaited<ReturnType<typeof registerUser>>; horseId: Awaited<ReturnType<typeof createHorse>>; videoKey: Awaited<ReturnType<typeof uploadVideo>> }[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const user = await registerUser(setup);
    // Spending credits needs a confirmed address; no accounts worker runs to email the link, so
    // the bench confirms it in the database (before any authenticated call could cache the user).
    await stack.orm.em.fork().getConnection().execute('update users set email_verified_at = now() where id = ?', [user.user.id]);
    await grantPeriodCredits(stack.orm.em.fork(), user.user.id, 1_000_000, `bench:${user.user.id}`, 'benchmark');
    const horseId = await createHorse(setup, user.accessToken);
    const videoKey = await uploadVideo(setup, user.accessToken, (await testVideos()).short);
    accounts.push({ user, horseId, videoKey });
  }
  const client = await stack.temporal.client();

  const ours = async (i: number, via = api) => {
    const { user, horseId, videoKey } = accounts[i % ACCOUNTS];
    const res = await via.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, user.accessToken);
    if (res.status !== 202) throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
  };
  const raw = async (i: number) => {
    const { user, horseId } = accounts[i % ACCOUNTS];
    await startAnalysisWorkflow(client, { id: randomUUID(), userId: user.user.id, horseId, type: 'locomotion' });
  };
  // Warm-up both paths (JIT, pools, the Temporal connection).
  await closedLoop(CONCURRENCY, 2, (i) => ours(i));
  await closedLoop(CONCURRENCY, 2, raw);
  if (PROFILE) {
    // Counted through the in-process API (same code; pg's Client.query is reachable here).
    const N = 30;
    const texts = await countQueries(async () => {
      for (let i = 0; i < N; i++) await ours(i, setup);
    });
    const one = await countQueries(() => ours(0, setup));
    console.log(`database statements per start: ${(texts.length / N).toFixed(1)} (${texts.length} for ${N} starts, one at a time); one start's:\n${one.map((t) => `    ${t}`).join('\n')}\n`);
  }
  console.log(`POST /api/analyses (row + reservation committed, workflow started) vs raw client.workflow.start; concurrency ${CONCURRENCY}, ${ACCOUNTS} account(s), ${ROUNDS} alternating rounds of ${SECONDS} s`);
  const cpuBefore = cpuSecondsOf(child.pid);
  const { ours: oc, baseline: bc } = await alternatingRounds({ concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS }, (i) => ours(i), raw);
  // The API process is idle during the raw rounds, so its CPU is the API rounds'.
  const apiCpuMsPerStart = ((cpuSecondsOf(child.pid) - cpuBefore) * 1000) / oc.calls;
  console.log(`API process CPU per start: ${apiCpuMsPerStart.toFixed(2)} ms`);
  const extra = { concurrency: CONCURRENCY, accounts: ACCOUNTS, seconds: SECONDS, rounds: ROUNDS, ours: oc, baseline: bc, apiCpuMsPerStart };
  reportBench({ name: `POST /api/analyses → workflow started, throughput${ACCOUNTS === 1 ? ' (one account)' : ''}`, ours: oc.rps, baseline: bc.rps, unit: 'starts/s', goal: 0.8, higherIsBetter: true, baselineLabel: 'raw client.workflow.start loop, same server', extra });
  reportBench({ name: `POST /api/analyses → workflow started, p99${ACCOUNTS === 1 ? ' (one account)' : ''}`, ours: oc.p99, baseline: bc.p99, unit: 'ms', goal: 1.3, higherIsBetter: false, baselineLabel: 'raw client.workflow.start loop, same server', extra });
} finally {
  await child.stop();
  await stack.close();
  await stopInfra();
}
if (PROFILE) {
  for (const f of readdirSync(profileDir).filter((n) => n.endsWith('.cpuprofile'))) {
    // The first part of the timeline is module loading and the warm-up: skipped (PROFILE_SKIP).
    console.log(`\nCPU profile of the API process under the analyses load: ${join(profileDir, f)}`);
    console.log(summarizeProfile(join(profileDir, f), 25, Number(process.env.PROFILE_SKIP ?? 0.3)));
  }
}
