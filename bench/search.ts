/**
 * Marketplace search benchmark: p50/p95/p99 of the public search SQL (the exact text the
 * API runs, from api/marketplace/search.ts) over 100,000 seeded listings on a real
 * PostgreSQL, plus EXPLAIN ANALYZE of each query shape with the indexes it used.
 *
 *   tsx bench/search.ts                       # embedded Postgres, seeded from scratch
 *   DATABASE_URL=postgresql://… tsx bench/search.ts   # your database (migrated + seeded if short)
 *   BENCH_LISTINGS=100000 BENCH_RUNS=200 tsx bench/search.ts
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { startEmbeddedPostgres } from '../scripts/lib/postgres';
import { seedListings } from '../scripts/seed-listings';
import { createOrm, migrate } from '../entities/orm';
import { buildSearchSql, nextCursor, type SearchRow } from '../api/marketplace/search';
import { SearchListingsQuery } from '../api/marketplace/schemas';

const LISTINGS = Number(process.env.BENCH_LISTINGS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);

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
  const pg = process.env.DATABASE_URL ? null : await startEmbeddedPostgres({ persistent: false, database: 'horse_tempo_bench' });
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
    console.log(`PostgreSQL: ${(await conn.execute('show server_version'))[0].server_version}; ${RUNS} runs per shape, limit 20\n`);

    const rows: string[][] = [];
    for (const shape of SHAPES) {
      // Warm-up, then timed runs.
      for (let i = 0; i < 5; i++) await run(shape.query(i));
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const result = await run(shape.query(i));
        times.push(performance.now() - t0);
        hits += result.length;
      }
      times.sort((a, b) => a - b);
      rows.push([shape.name, pct(times, 50).toFixed(2), pct(times, 95).toFixed(2), pct(times, 99).toFixed(2), (hits / RUNS).toFixed(1)]);
    }
    // Deep pagination: 25 pages of newest through cursors; the last page costs what the first did.
    const pageTimes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 25; page++) {
      const t0 = performance.now();
      const q = SearchListingsQuery.parse({ ...(cursor ? { cursor } : {}) });
      const built = buildSearchSql(q);
      const result = (await conn.execute(built.sql, built.params)) as SearchRow[];
      pageTimes.push(performance.now() - t0);
      cursor = nextCursor(result, q.limit, built.sort);
    }
    rows.push(['newest, page 25 via cursor', pageTimes[24].toFixed(2), '-', '-', '20']);

    const head = ['shape', 'p50 ms', 'p95 ms', 'p99 ms', 'avg rows'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));

    console.log('\nQuery plans (EXPLAIN ANALYZE, BUFFERS):');
    for (const shape of [...SHAPES, { name: 'newest, page 2 via cursor', query: () => ({ cursor: cursor! }) }]) {
      const q = SearchListingsQuery.parse(shape.query(1));
      const built = buildSearchSql(q);
      const plan = (await conn.execute(`explain (analyze, buffers, costs off) ${built.sql}`, built.params)) as { 'QUERY PLAN': string }[];
      const text = plan.map((p) => p['QUERY PLAN']).join('\n');
      const indexes = [...new Set([...text.matchAll(/(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)/g)].map((m) => m[1]))];
      const seqScans = [...new Set([...text.matchAll(/Seq Scan on (\w+)/g)].map((m) => m[1]))];
      console.log(`\n== ${shape.name}  ${JSON.stringify(shape.query(1))}`);
      console.log(`   indexes: ${indexes.join(', ') || 'none'}${seqScans.length ? `; seq scans: ${seqScans.join(', ')}` : ''}`);
      console.log(text.replace(/^/gm, '   '));
    }

    async function run(params: Record<string, string | number>) {
      const q = SearchListingsQuery.parse(params);
      const built = buildSearchSql(q);
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
