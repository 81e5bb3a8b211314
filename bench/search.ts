/**
 * Marketplace search benchmark: p50/p95/p99 of the public search SQL (the exact text the
 * API runs, from api/marketplace/search.ts) over 100,000 seeded listings on a real
 * PostgreSQL, plus EXPLAIN ANALYZE of each query shape with the indexes it used.
 *
 *   tsx bench/search.ts                       # embedded Postgres kept in .data/bench/search-postgres
 *                                             # (seeded once, ~2 min; later runs reuse it)
 *   tsx bench/search.ts --full                # 1000 runs per shape
 *   DATABASE_URL=postgresql://… tsx bench/search.ts   # your database (migrated + seeded if short)
 *   BENCH_LISTINGS=100000 BENCH_RUNS=200 tsx bench/search.ts
 *
 * Each shape's row in `npm run bench`: ours = its p99, goal < 50 ms; the baseline is the p99
 * of the cheapest query there is on the same connection (one listing by primary key), so the
 * ratio says how many point lookups a search costs. Text shapes also time exact ranking over
 * every match (the query before SEARCH_RELEVANCE_CANDIDATES) to show what the bound buys.
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres } from '../scripts/lib/postgres';
import { seedListings } from '../scripts/seed-listings';
import { createOrm, migrate } from '../entities/orm';
import { buildSearchSql, nextCursor, type SearchRow } from '../api/marketplace/search';
import { SearchListingsQuery } from '../api/marketplace/schemas';
import { benchMode, percentile, reportBench } from './lib/report';

const LISTINGS = Number(process.env.BENCH_LISTINGS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? (benchMode() === 'full' ? 1000 : 200));
const CANDIDATES = Number(process.env.SEARCH_RELEVANCE_CANDIDATES ?? 500);
const GOAL_MS = 50;

const WORDS = ['dressage', 'jument', 'mare', 'stallion', 'étalon', 'poney', 'pony', 'saut', 'jumping', 'hanoverian', 'selle français', 'balade', 'eventing', 'poulinière', 'breeding'];

type Shape = { name: string; query: (i: number) => Record<string, string | number> };
const SHAPES: Shape[] = [
  { name: 'newest, no filter (home page)', query: () => ({}) },
  { name: 'text, by relevance', query: (i) => ({ q: WORDS[i % WORDS.length] }) },
  { name: 'two words, by relevance', query: (i) => ({ q: `${WORDS[i % WORDS.length]} ${WORDS[(i * 7 + 3) % WORDS.length]}` }) },
  { name: 'text + type + country, newest', query: (i) => ({ q: WORDS[i % WORDS.length], type: 'sale', country: 'FR', sort: 'newest' }) },
  { name: 'type + country, newest', query: (i) => ({ type: ['sale', 'stud', 'rental'][i % 3], country: ['FR', 'DE', 'NL'][i % 3] }) },
  { name: 'price range EUR, by price', query: (i) => ({ minPrice: 500_000 + (i % 10) * 100_000, maxPrice: 2_000_000, currency: 'EUR', sort: 'price' }) },
  { name: 'breed + horse age 4-8, newest', query: (i) => ({ breed: ['Hanoverian', 'KWPN', 'Selle Français'][i % 3], minAge: 4, maxAge: 8 }) },
  { name: 'price high to low, EUR', query: () => ({ sort: '-price', currency: 'EUR' }) },
];

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  const pg = process.env.DATABASE_URL ? null : await startEmbeddedPostgres({ persistent: true, dataDir: '.data/bench/search-postgres', database: 'horse_tempo_bench' });
  const url = process.env.DATABASE_URL ?? pg!.url;
  const orm = await createOrm({ databaseUrl: url, poolMax: 4 });
  try {
    await migrate(orm);
    const conn = orm.em.fork().getConnection();
    const [{ n }] = await conn.execute(`select count(*)::int as n from listings`);
    if (n < LISTINGS) {
      console.log(`seeding ${LISTINGS - n} listings…`);
      const seeded = await seedListings(url, { count: LISTINGS - n, log: (l) => console.log(l) });
      console.log(`seeded in ${(seeded.ms / 1000).toFixed(1)}s`);
    }
    const [stats] = await conn.execute(
      `select count(*)::int as total, count(*) filter (where status = 'active' and expires_at > now())::int as searchable,
              pg_size_pretty(pg_total_relation_size('listings')) as size, pg_size_pretty(pg_relation_size('listings_search_index')) as gin from listings`,
    );
    console.log(`\nlistings: ${stats.total} (${stats.searchable} searchable), table+indexes ${stats.size}, GIN ${stats.gin}`);
    // What autovacuum keeps true in production (the table's settings, see the migration
    // search_index_only_relevance): the visibility map is set, so relevance's walks over
    // listings_active_newest_index are index-only. A just-seeded table has no map yet.
    await conn.execute('vacuum (analyze) listings');
    const [vm] = await conn.execute(`select relallvisible, relpages from pg_class where oid = 'listings'::regclass`);
    console.log(`visibility map: ${vm.relallvisible} of ${vm.relpages} table pages all-visible`);
    console.log(`PostgreSQL: ${(await conn.execute('show server_version'))[0].server_version}; ${RUNS} runs per shape, limit 20, relevance over the ${CANDIDATES} newest matches\n`);

    const [{ id: someId }] = await conn.execute(`select id from listings limit 1`);
    const time = async (runs: number, fn: (i: number) => Promise<number>) => {
      for (let i = 0; i < 5; i++) await fn(i);
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        hits += await fn(i);
        times.push(performance.now() - t0);
      }
      return { times: times.sort((a, b) => a - b), hits };
    };
    const floor = await time(RUNS, async () => (await conn.execute(`select * from listings where id = ?`, [someId])).length);
    const floorP99 = percentile(floor.times, 99);
    console.log(`floor: one listing by primary key p50 ${percentile(floor.times, 50).toFixed(2)} ms, p99 ${floorP99.toFixed(2)} ms`);

    const rows: string[][] = [];
    const measured: { name: string; p99: number; exactP99?: number }[] = [];
    for (const shape of SHAPES) {
      const { times, hits } = await time(RUNS, async (i) => (await run(shape.query(i))).length);
      // What relevance cost before the candidate bound: rank every match.
      const exact = shape.name.includes('relevance') ? await time(Math.min(RUNS, 50), async (i) => (await run(shape.query(i), 1_000_000)).length) : null;
      rows.push([shape.name, pct(times, 50).toFixed(2), pct(times, 95).toFixed(2), pct(times, 99).toFixed(2), (hits / RUNS).toFixed(1), exact ? percentile(exact.times, 99).toFixed(2) : '-']);
      measured.push({ name: shape.name, p99: percentile(times, 99), exactP99: exact ? percentile(exact.times, 99) : undefined });
    }
    // Deep pagination: 25 pages of newest through cursors; the last page costs what the first did.
    const pageTimes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 25; page++) {
      const t0 = performance.now();
      const q = SearchListingsQuery.parse({ ...(cursor ? { cursor } : {}) });
      const built = buildSearchSql(q, new Date(), { relevanceCandidates: CANDIDATES });
      const result = (await conn.execute(built.sql, built.params)) as SearchRow[];
      pageTimes.push(performance.now() - t0);
      cursor = nextCursor(result, q.limit, built.sort);
    }
    rows.push(['newest, page 25 via cursor', pageTimes[24].toFixed(2), '-', '-', '20', '-']);

    const head = ['shape', 'p50 ms', 'p95 ms', 'p99 ms', 'avg rows', 'exact rank p99'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));

    console.log('\nQuery plans (EXPLAIN ANALYZE, BUFFERS):');
    for (const shape of [...SHAPES, { name: 'newest, page 2 via cursor', query: () => ({ cursor: cursor! }) }]) {
      const q = SearchListingsQuery.parse(shape.query(1));
      const built = buildSearchSql(q, new Date(), { relevanceCandidates: CANDIDATES });
      const plan = (await conn.execute(`explain (analyze, buffers, costs off) ${built.sql}`, built.params)) as { 'QUERY PLAN': string }[];
      const text = plan.map((p) => p['QUERY PLAN']).join('\n');
      const indexes = [...new Set([...text.matchAll(/(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)/g)].map((m) => m[1]))];
      const seqScans = [...new Set([...text.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]))];
      console.log(`\n== ${shape.name}  ${JSON.stringify(shape.query(1))}`);
      console.log(`   indexes: ${indexes.join(', ') || 'none'}${seqScans.length ? `; seq scans: ${seqScans.join(', ')}` : ''}`);
      console.log(text.replace(/^/gm, '   '));
    }

    for (const m of measured) {
      reportBench({
        name: `search: ${m.name} p99`,
        ours: m.p99,
        baseline: floorP99,
        unit: 'ms',
        goal: { value: GOAL_MS },
        higherIsBetter: false,
        baselineLabel: 'one listing by primary key, same connection',
        extra: { listings: stats.total, searchable: stats.searchable, runs: RUNS, candidates: CANDIDATES, ...(m.exactP99 !== undefined ? { exactRankP99: m.exactP99 } : {}) },
      });
    }

    async function run(params: Record<string, string | number>, relevanceCandidates = CANDIDATES) {
      const q = SearchListingsQuery.parse(params);
      const built = buildSearchSql(q, new Date(), { relevanceCandidates });
      return (await conn.execute(built.sql, built.params)) as SearchRow[];
    }
  } finally {
    await orm.close();
    await pg?.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
