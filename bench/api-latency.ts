/**
 * POST /api/analyses → workflow started, against a raw `client.workflow.start` loop on the
 * same Temporal server in the same run. The API answers 202 only after the Analysis row and
 * its credit reservation are committed AND Temporal accepted the analyzeVideo start, so the
 * request time is that latency. The raw loop starts the same workflow with the same options
 * (workflows/analysis/start.ts) and nothing else. No worker polls: workflows stay started and
 * the figures are not mixed with ffmpeg/AI work.
 *
 *   tsx bench/api-latency.ts                 # quick: 3 alternating rounds of 5 s, concurrency 8
 *   tsx bench/api-latency.ts --full          # 5 rounds of 10 s
 *   BENCH_CONCURRENCY=4 tsx bench/api-latency.ts
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestStack } from '../test/support/stack';
import { apiClient, registerUser } from '../test/support/http';
import { createHorse, testVideos, uploadVideo } from '../test/support/analysis';
import { stopInfra } from '../test/support/infra';
import { grantPeriodCredits } from '../entities/credit-ledger';
import { startAnalysisWorkflow } from '../workflows/analysis/client';
import { benchMode, reportBench } from './lib/report';
import { alternatingRounds, closedLoop } from './lib/closed-loop';

const full = benchMode() === 'full';
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (full ? 10 : 5));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (full ? 5 : 3));

Runtime.install({ logger: new DefaultLogger('ERROR') });
// The per-account and per-organization start limits stay in the path (their count query is
// measured) with a ceiling the bench never reaches.
const stack = await startTestStack({ workers: false, env: { ANALYSIS_STARTS_PER_USER_PER_HOUR: '1000000', ANALYSIS_STARTS_PER_ORG_PER_HOUR: '1000000' } });
try {
  const api = apiClient(stack.baseUrl);
  const user = await registerUser(api);
  // Spending credits needs a confirmed address; no accounts worker runs to email the link, so
  // the bench confirms it in the database (before any authenticated call could cache the user).
  await stack.orm.em.fork().getConnection().execute('update users set email_verified_at = now() where id = ?', [user.user.id]);
  await grantPeriodCredits(stack.orm.em.fork(), user.user.id, 1_000_000, `bench:${user.user.id}`, 'benchmark');
  const horseId = await createHorse(api, user.accessToken);
  const videoKey = await uploadVideo(api, user.accessToken, (await testVideos()).short);
  const client = await stack.temporal.client();

  const ours = async () => {
    const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, user.accessToken);
    if (res.status !== 202) throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
  };
  const raw = async () => {
    await startAnalysisWorkflow(client, { id: randomUUID(), userId: user.user.id, horseId, type: 'locomotion' });
  };
  // Warm-up both paths (JIT, pools, the Temporal connection).
  await closedLoop(CONCURRENCY, 2, ours);
  await closedLoop(CONCURRENCY, 2, raw);
  console.log(`POST /api/analyses (row + reservation committed, workflow started) vs raw client.workflow.start; concurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds of ${SECONDS} s`);
  const { ours: oc, baseline: bc } = await alternatingRounds({ concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS }, ours, raw);
  const extra = { concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS, ours: oc, baseline: bc };
  reportBench({ name: 'POST /api/analyses → workflow started, throughput', ours: oc.rps, baseline: bc.rps, unit: 'starts/s', goal: 0.8, higherIsBetter: true, baselineLabel: 'raw client.workflow.start loop, same server', extra });
  reportBench({ name: 'POST /api/analyses → workflow started, p99', ours: oc.p99, baseline: bc.p99, unit: 'ms', goal: 1.3, higherIsBetter: false, baselineLabel: 'raw client.workflow.start loop, same server', extra });
} finally {
  await stack.close();
  await stopInfra();
}
