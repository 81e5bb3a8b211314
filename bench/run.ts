/**
 * `npm run bench`: runs every benchmark (each measures its own baseline in the same run),
 * prints one table (path, ours, baseline, ratio, goal, met?) and writes it as JSON to
 * bench/results/<commit>.json and .data/bench/latest.json so two commits can be compared.
 *
 *   npm run bench                         # quick mode: small datasets, a few minutes in all
 *   npm run bench -- --full               # full datasets (100k listings, 10,000 workflows)
 *   npm run bench -- --only=search,api    # a subset (names below)
 *   npm run bench -- --compare a.json b.json   # two result files side by side
 *   npm run bench -- --capacity a.json [b.json ...]   # the capacity table from saved runs
 *
 * Benches run one after another in child processes (they start their own Postgres /
 * Temporal), so one bench's servers never share the CPU with the next one's.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatFigure, goalText, type BenchMode, type BenchResult } from './lib/report';
import { capacityRows, formatCapacity, historyCounts } from './lib/capacity';

interface BenchEntry {
  name: string;
  script: string;
  /** Extra arguments per mode. */
  args?: Partial<Record<BenchMode, string[]>>;
  /** Node flags the bench needs (e.g. --expose-gc). */
  nodeFlags?: string[];
}

/** Every benchmark `npm run bench` runs, in order. */
export const BENCHES: BenchEntry[] = [
  { name: 'api', script: 'bench/api-auth.ts' },
  { name: 'frames', script: 'bench/frames.ts' },
  { name: 'analyses', script: 'bench/api-latency.ts' },
  { name: 'webhook', script: 'bench/webhook.ts' },
  { name: 'search', script: 'bench/search.ts' },
  // Password reset: unknown vs known address timing (production argon2 cost); ~2 min.
  { name: 'password-reset', script: 'bench/password-reset-timing.ts' },
  // /metrics AI totals: scrape query vs the old whole-table aggregate; quick seeds 50k analyses.
  { name: 'ai-metrics', script: 'bench/ai-metrics.ts' },
  // Sleeping workflows: quick 1,000 asleep + 200 due in the same minute (1-minute reminder window); --full 10,000 + 1,000 (≈ 10 min each).
  { name: 'health', script: 'bench/health-workflows.ts', nodeFlags: ['--expose-gc'] },
  { name: 'gestation', script: 'bench/gestation-workflows.ts', nodeFlags: ['--expose-gc'] },
  // Compiled build vs tsx entrypoints: start-up, idle and loaded RSS (quick ≈ 5 min).
  { name: 'production', script: 'bench/production.ts' },
];

const root = fileURLToPath(new URL('..', import.meta.url));

export interface BenchRun {
  commit: string;
  mode: BenchMode;
  startedAt: string;
  seconds: number;
  node: string;
  cpus: number;
  results: BenchResult[];
  /** Benches that exited non-zero (their rows may be missing). */
  failed: string[];
}

function commitName(): string {
  try {
    const hash = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${hash}-dirty` : hash;
  } catch {
    return 'unknown';
  }
}

function runOne(entry: BenchEntry, mode: BenchMode, resultsFile: string): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [...(entry.nodeFlags ?? []), '--import', 'tsx', entry.script, ...(entry.args?.[mode] ?? [])], {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, BENCH_MODE: mode, BENCH_RESULTS_FILE: resultsFile, BENCH_NAME: entry.name },
    });
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

/** The table as GitHub markdown (the README quotes it as printed). */
export function formatTable(run: Pick<BenchRun, 'results'>): string {
  const rows = run.results.map((r) => [
    r.name,
    formatFigure(r.ours, r.unit),
    formatFigure(r.baseline, r.unit),
    `${r.ratio.toFixed(2)}×`,
    goalText(r),
    r.met ? 'yes' : '**no**',
  ]);
  const head = ['path', 'ours', 'baseline', 'ours / baseline', 'goal', 'met?'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
  return [line(head), rule, ...rows.map(line)].join('\n');
}

function compare(aPath: string, bPath: string): void {
  const a = JSON.parse(readFileSync(aPath, 'utf8')) as BenchRun;
  const b = JSON.parse(readFileSync(bPath, 'utf8')) as BenchRun;
  console.log(`A = ${a.commit} (${a.mode}, ${a.startedAt})\nB = ${b.commit} (${b.mode}, ${b.startedAt})\n`);
  const names = [...new Set([...a.results.map((r) => r.name), ...b.results.map((r) => r.name)])];
  const rows = names.map((name) => {
    const ra = a.results.find((r) => r.name === name);
    const rb = b.results.find((r) => r.name === name);
    const fig = (r?: BenchResult) => (r ? `${formatFigure(r.ours, r.unit)} (${r.ratio.toFixed(2)}×${r.met ? '' : ', not met'})` : '-');
    const change = ra && rb ? `${(((rb.ours - ra.ours) / ra.ours) * 100).toFixed(1)}%` : '-';
    return [name, fig(ra), fig(rb), change, (rb ?? ra) ? goalText((rb ?? ra)!) : '-'];
  });
  const head = ['path', 'A ours (ratio)', 'B ours (ratio)', 'B vs A', 'goal'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log([line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n'));
}

/** The capacity table (bench/lib/capacity.ts) from the rows of one or more runs; a later run's row wins. */
function printCapacity(results: BenchResult[]): void {
  const byName = new Map(results.map((r) => [r.name, r]));
  const history = (name: string) => JSON.parse(readFileSync(join(root, 'test/replay/histories', name), 'utf8'));
  console.log(`\n${formatCapacity(capacityRows([...byName.values()], historyCounts(history('analyze-video.json'), history('health-reminders.json'))))}`);
}

async function main() {
  const args = process.argv.slice(2);
  const capacityAt = args.indexOf('--capacity');
  if (capacityAt >= 0) {
    const files = args.slice(capacityAt + 1);
    if (!files.length) throw new Error('usage: npm run bench -- --capacity <a.json> [b.json ...]');
    const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchRun);
    console.log(`from ${runs.map((r) => `${r.commit} (${r.mode}, ${r.startedAt})`).join(', ')}`);
    return printCapacity(runs.flatMap((r) => r.results));
  }
  const compareAt = args.indexOf('--compare');
  if (compareAt >= 0) {
    const [a, b] = args.slice(compareAt + 1);
    if (!a || !b) throw new Error('usage: npm run bench -- --compare <a.json> <b.json>');
    return compare(a, b);
  }
  const mode: BenchMode = args.includes('--full') ? 'full' : 'quick';
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  const selected = BENCHES.filter((b) => !only || only.includes(b.name));

  const resultsFile = join(tmpdir(), `horse-tempo-bench-${process.pid}.jsonl`);
  rmSync(resultsFile, { force: true });
  const startedAt = new Date();
  const failed: string[] = [];
  for (const entry of selected) {
    console.log(`\n=== ${entry.name}: ${entry.script} (${mode})`);
    const t = Date.now();
    const code = await runOne(entry, mode, resultsFile);
    console.log(`=== ${entry.name}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    if (code !== 0) failed.push(entry.name);
  }
  const results = existsSync(resultsFile)
    ? readFileSync(resultsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as BenchResult)
    : [];
  rmSync(resultsFile, { force: true });
  const run: BenchRun = {
    commit: commitName(),
    mode,
    startedAt: startedAt.toISOString(),
    seconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    node: process.version,
    cpus: (await import('node:os')).cpus().length,
    results,
    failed,
  };
  console.log(`\nnpm run bench${mode === 'full' ? ' -- --full' : ''} at ${run.commit}, ${run.cpus} cores, ${run.seconds} s:\n`);
  console.log(formatTable(run));
  if (failed.length) console.log(`\nFAILED benches (rows missing or partial): ${failed.join(', ')}`);
  printCapacity(results);
  const json = `${JSON.stringify(run, null, 2)}\n`;
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  mkdirSync(join(root, '.data/bench'), { recursive: true });
  const saved = join('bench/results', `${run.commit}${only ? `-${only.join('+')}` : ''}${mode === 'full' ? '-full' : ''}.json`);
  writeFileSync(join(root, saved), json);
  writeFileSync(join(root, '.data/bench/latest.json'), json);
  console.log(`\nwritten: ${saved} and .data/bench/latest.json (compare: npm run bench -- --compare <a.json> <b.json>)`);
  if (failed.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
