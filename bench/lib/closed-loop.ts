/**
 * A closed-loop load: `concurrency` callers each run `fn` back to back for `seconds`.
 * Used where ours and the baseline are both function calls in this process (an HTTP call
 * to our API vs a raw Temporal client call), so both pay the same client-side costs.
 */
import { performance } from 'node:perf_hooks';
import { percentile } from './report';

export interface LoopFigures {
  rps: number;
  p50: number;
  p99: number;
  calls: number;
  failures: number;
}

export async function closedLoop(concurrency: number, seconds: number, fn: (i: number) => Promise<void>): Promise<LoopFigures> {
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  let firstError: unknown;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const i = next++;
        const s = performance.now();
        try {
          await fn(i);
          latencies.push(performance.now() - s);
        } catch (err) {
          failures++;
          firstError ??= err;
        }
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  if (!latencies.length) throw new Error(`every call failed: ${String(firstError)}`);
  if (failures) console.warn(`  ${failures} failed calls, first: ${String(firstError)}`);
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / wall, p50: percentile(latencies, 50), p99: percentile(latencies, 99), calls: latencies.length, failures };
}

export function combineLoops(rounds: LoopFigures[]): LoopFigures {
  const n = rounds.length;
  return {
    rps: rounds.reduce((s, r) => s + r.rps, 0) / n,
    p50: rounds.reduce((s, r) => s + r.p50, 0) / n,
    p99: rounds.reduce((s, r) => s + r.p99, 0) / n,
    calls: rounds.reduce((s, r) => s + r.calls, 0),
    failures: rounds.reduce((s, r) => s + r.failures, 0),
  };
}

export const describeLoop = (f: LoopFigures) => `${f.rps.toFixed(1)}/s, p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms (${f.calls} calls${f.failures ? `, ${f.failures} failed` : ''})`;

/**
 * Ours and the baseline in alternating rounds, so a noisy neighbour on the shared machine hits
 * both sides alike; returns each side's rounds combined.
 */
export async function alternatingRounds(
  opts: { concurrency: number; seconds: number; rounds: number },
  ours: (i: number) => Promise<void>,
  baseline: (i: number) => Promise<void>,
): Promise<{ ours: LoopFigures; baseline: LoopFigures }> {
  const o: LoopFigures[] = [];
  const b: LoopFigures[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    o.push(await closedLoop(opts.concurrency, opts.seconds, ours));
    console.log(`  round ${i + 1} ours: ${describeLoop(o[i])}`);
    b.push(await closedLoop(opts.concurrency, opts.seconds, baseline));
    console.log(`  round ${i + 1} raw:  ${describeLoop(b[i])}`);
  }
  return { ours: combineLoops(o), baseline: combineLoops(b) };
}
