/**
 * API → workflow started latency: POST /api/analyses answers 202 only after the Analysis
 * row and its credit reservation are committed AND Temporal accepted the analyzeVideo start,
 * so the request time is that latency. Runs the real app on the test stack (embedded
 * Postgres, Temporal dev server); the analysis queue is not polled, so workflows stay
 * started and the figures are not mixed with ffmpeg/AI work.
 *
 *   tsx bench/api-latency.ts                  # 200 requests, 10 warm-up
 *   BENCH_REQUESTS=500 BENCH_CONCURRENCY=4 tsx bench/api-latency.ts
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestStack } from '../test/support/stack';
import { apiClient, registerUser } from '../test/support/http';
import { createHorse, testVideos, uploadVideo } from '../test/support/analysis';
import { stopInfra } from '../test/support/infra';
import { grantPeriodCredits } from '../entities/credit-ledger';
import { ALL_TASK_QUEUES } from '../workflows/queues';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);

Runtime.install({ logger: new DefaultLogger('ERROR') });
const stack = await startTestStack({ queues: ALL_TASK_QUEUES.filter((q) => q !== 'analysis') });
try {
  const api = apiClient(stack.baseUrl);
  const user = await registerUser(api);
  await grantPeriodCredits(stack.orm.em.fork(), user.user.id, REQUESTS + WARMUP + 10, `bench:${user.user.id}`, 'benchmark');
  const horseId = await createHorse(api, user.accessToken);
  const videoKey = await uploadVideo(api, user.accessToken, (await testVideos()).short);

  const post = async () => {
    const t = performance.now();
    const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, user.accessToken);
    const ms = performance.now() - t;
    if (res.status !== 202) throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
    return ms;
  };
  for (let i = 0; i < WARMUP; i++) await post();
  const times: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) times.push(await post());
    }),
  );
  const wall = performance.now() - t0;
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
  console.log(`POST /api/analyses → 202 (row + reservation committed, workflow started), ${times.length} requests, concurrency ${CONCURRENCY}`);
  console.log(`  p50 ${pct(50).toFixed(1)} ms   p90 ${pct(90).toFixed(1)} ms   p99 ${pct(99).toFixed(1)} ms   max ${times[times.length - 1].toFixed(1)} ms`);
  console.log(`  throughput ${(times.length / (wall / 1000)).toFixed(1)} starts/s`);
} finally {
  await stack.close();
  await stopInfra();
}
