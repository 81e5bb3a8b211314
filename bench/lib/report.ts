/**
 * One benchmark figure next to its baseline, measured in the same run.
 *
 * Every bench calls reportBench once per figure it wants in the `npm run bench` table:
 * it prints the two figures and, as the LAST line of the block, `ours / baseline`. The
 * result is also appended as one JSON line to BENCH_RESULTS_FILE (set by bench/run.ts;
 * default .data/bench/results.jsonl) so the runner can build its table from real output
 * instead of scraping text.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * What "good" is. A number is a ratio goal on ours / baseline (≥ it when higher is better,
 * ≤ it otherwise); `{ value }` is an absolute goal on `ours` itself, for figures whose
 * target is a budget (300 MB, 50 ms) rather than a multiple of the baseline.
 */
export type BenchGoal = number | { value: number };

export interface BenchInput {
  /** The row's name in the table: the path measured and the figure, e.g. "GET /api/horses/:id throughput". */
  name: string;
  ours: number;
  baseline: number;
  /** Unit of ours and baseline, e.g. "req/s", "ms", "MB". */
  unit: string;
  goal: BenchGoal;
  higherIsBetter: boolean;
  /** What the baseline is, shown under the figures (e.g. "bare Express + pg, same work"). */
  baselineLabel?: string;
  /** Free-form figures kept in the JSON (not in the table). */
  extra?: Record<string, unknown>;
}

export interface BenchResult extends BenchInput {
  bench: string;
  ratio: number;
  met: boolean;
  mode: BenchMode;
  at: string;
}

export type BenchMode = 'quick' | 'full';

/** quick (default) or full, from BENCH_MODE or a --full argument. */
export function benchMode(): BenchMode {
  return process.env.BENCH_MODE === 'full' || process.argv.includes('--full') ? 'full' : 'quick';
}

export function ratioOf(ours: number, baseline: number): number {
  return baseline === 0 ? (ours === 0 ? 1 : Infinity) : ours / baseline;
}

export function goalMet(r: Pick<BenchInput, 'ours' | 'baseline' | 'goal' | 'higherIsBetter'>): boolean {
  const subject = typeof r.goal === 'number' ? ratioOf(r.ours, r.baseline) : r.ours;
  const target = typeof r.goal === 'number' ? r.goal : r.goal.value;
  return r.higherIsBetter ? subject >= target : subject <= target;
}

/** "≥ 0.75×", "≤ 1.3×", "< 300 MB" style text of a goal. */
export function goalText(r: Pick<BenchInput, 'goal' | 'higherIsBetter' | 'unit'>): string {
  if (typeof r.goal === 'number') return `${r.higherIsBetter ? '≥' : '≤'} ${r.goal}×`;
  return `${r.higherIsBetter ? '≥' : '≤'} ${r.goal.value} ${r.unit}`;
}

export function formatFigure(value: number, unit: string): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

export function reportBench(input: BenchInput): BenchResult {
  const result: BenchResult = {
    ...input,
    bench: process.env.BENCH_NAME ?? scriptName(),
    ratio: ratioOf(input.ours, input.baseline),
    met: goalMet(input),
    mode: benchMode(),
    at: new Date().toISOString(),
  };
  console.log(`\n${input.name}`);
  console.log(`  ours      ${formatFigure(input.ours, input.unit)}`);
  console.log(`  baseline  ${formatFigure(input.baseline, input.unit)}${input.baselineLabel ? `  (${input.baselineLabel})` : ''}`);
  console.log(`  goal      ${goalText(input)}: ${result.met ? 'met' : 'NOT met'}`);
  console.log(`ours / baseline = ${result.ratio.toFixed(2)}`);
  const file = resolve(process.env.BENCH_RESULTS_FILE ?? '.data/bench/results.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify(result)}\n`);
  return result;
}

function scriptName(): string {
  const script = process.argv[1] ?? 'bench';
  return script.replace(/^.*\//, '').replace(/\.[cm]?[jt]s$/, '');
}

/** Percentile of an ascending array (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
