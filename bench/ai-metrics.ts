/**
 * AI metrics scrape cost vs the size of the analyses table. /metrics used to aggregate the
 * whole analyses table on every scrape (a sequential scan growing with every analysis ever
 * run); it now reads `ai_usage_totals`, one row per provider and model, kept up to date at
 * write time. This seeds N analyses (and the matching totals) on a throwaway embedded
 * Postgres, then times both queries and prints their EXPLAIN (ANALYZE, BUFFERS).
 *
 *   source ~/.cache/horse-tempo/env.sh
 *   flock /tmp/ht-fullsuite.lock node --import tsx bench/ai-metrics.ts [--rows=10000,200000] [--runs=50]
 *
 * Not a test: figures only. Its row in `npm run bench`: ours = the scrape query's p99 at the
 * largest size, baseline = the old whole-table aggregate's p99 at that size (quick mode
 * seeds 10,000 and 50,000 analyses; --full 10,000 and 200,000).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres } from '../scripts/lib/postgres';
import { createOrm, migrate } from '../entities/orm';
import { AI_METRICS_QUERY } from '../api/http/ai-metrics';
import { benchMode, reportBench } from './lib/report';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const SIZES = arg('rows', benchMode() === 'full' ? '10000,200000' : '10000,50000').split(',').map(Number);
const RUNS = Number(arg('runs', '50'));

/** What every scrape ran before: the aggregate over the whole table. */
const OLD_QUERY = `select provider, model, sum(input_tokens) as input, sum(output_tokens) as output, sum(estimated_cost_usd) as cost,
        count(*) as n, count(*) filter (where fallback_used) as fallback
   from analyses where provider is not null and model is not null and cache_hit = false
  group by provider, model`;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const pg = await startEmbeddedPostgres({ persistent: false, database: 'horse_tempo_bench_ai' });
const orm = await createOrm({ databaseUrl: pg.url, poolMax: 2 });
try {
  await migrate(orm);
  const conn = orm.em.fork().getConnection();
  const org = randomUUID();
  const user = randomUUID();
  const horse = randomUUID();
  await conn.execute(`insert into users (id, created_at, updated_at, email, password_hash, first_name, last_name) values (?, now(), now(), ?, 'x', 'A', 'B')`, [user, `${user}@bench.test`]);
  await conn.execute(`insert into organizations (id, created_at, updated_at, name, owner_id) values (?, now(), now(), 'bench', ?)`, [org, user]);
  await conn.execute(`insert into horses (id, created_at, updated_at, organization_id, created_by_id, name, gender) values (?, now(), now(), ?, ?, 'Bench', 'mare')`, [horse, org, user]);

  let seeded = 0;
  let last: { size: number; before: number[]; after: number[] } | null = null;
  for (const size of SIZES) {
    // Analyses answered by two providers and models, 10% by the fallback; totals to match.
    await conn.execute(
      `insert into analyses (id, created_at, updated_at, organization_id, horse_id, user_id, type, status, stage, credits, video_key, workflow_id,
                             provider, model, fallback_used, cache_hit, sandbox, input_tokens, output_tokens, estimated_cost_usd)
       select gen_random_uuid(), now(), now(), ?, ?, ?, 'locomotion', 'completed', 'done', 1, 'k', 'analysis-bench-' || g,
              case when g % 10 = 0 then 'openai' else 'anthropic' end, case when g % 10 = 0 then 'gpt-4o' else 'claude-sonnet-4-5' end,
              g % 10 = 0, false, true, 14000, 420, 0.05
         from generate_series(?, ?) g`,
      [org, horse, user, seeded + 1, size],
      'run',
    );
    seeded = size;
    await conn.execute(`delete from ai_usage_totals`, [], 'run');
    await conn.execute(
      `insert into ai_usage_totals (id, created_at, updated_at, provider, model, calls, input_tokens, output_tokens, estimated_cost_usd, analyses, fallback_analyses)
       select gen_random_uuid(), now(), now(), provider, model, count(*), sum(input_tokens), sum(output_tokens), sum(estimated_cost_usd), count(*), count(*) filter (where fallback_used)
         from analyses group by provider, model`,
      [],
      'run',
    );
    await conn.execute('vacuum analyze analyses', [], 'run');
    await conn.execute('vacuum analyze ai_usage_totals', [], 'run');

    const time = async (sql: string) => {
      const ms: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        await conn.execute(sql);
        ms.push(performance.now() - t);
      }
      return ms.sort((a, b) => a - b);
    };
    const before = await time(OLD_QUERY);
    const after = await time(AI_METRICS_QUERY);
    const plan = async (sql: string) => ((await conn.execute(`explain (analyze, buffers, costs off, timing off) ${sql}`)) as { 'QUERY PLAN': string }[]).map((r) => `    ${r['QUERY PLAN']}`).join('\n');
    console.log(`\n== ${size.toLocaleString('en')} analyses, ${RUNS} scrapes each`);
    console.log(`  before (aggregate over analyses): p50 ${pct(before, 50).toFixed(2)} ms  p99 ${pct(before, 99).toFixed(2)} ms`);
    console.log(`  now (ai_usage_totals):            p50 ${pct(after, 50).toFixed(2)} ms  p99 ${pct(after, 99).toFixed(2)} ms`);
    console.log(`  EXPLAIN before:\n${await plan(OLD_QUERY)}`);
    console.log(`  EXPLAIN now:\n${await plan(AI_METRICS_QUERY)}`);
    last = { size, before, after };
  }
  if (last) {
    reportBench({
      name: `AI metrics scrape at ${last.size.toLocaleString('en')} analyses, p99`,
      ours: pct(last.after, 99),
      baseline: pct(last.before, 99),
      unit: 'ms',
      goal: 0.1,
      higherIsBetter: false,
      baselineLabel: 'the old aggregate over the whole analyses table, same database',
      extra: { sizes: SIZES, runs: RUNS, oursP50: pct(last.after, 50), baselineP50: pct(last.before, 50) },
    });
  }
} finally {
  await orm.close();
  await pg.stop();
}
