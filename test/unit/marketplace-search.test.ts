import { expect } from 'chai';
import { buildSearchSql, decodeCursor, encodeCursor, nextCursor, type SearchRow } from '../../api/marketplace/search';
import { SearchListingsQuery } from '../../api/marketplace/schemas';
import { HttpError } from '../../api/http/errors';

const parse = (q: Record<string, unknown>) => SearchListingsQuery.parse(q);
const id = '0b4f3c1e-6a8d-4f3e-9a62-2d5c8b7e1f00';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('marketplace search (api/marketplace/search)', () => {
  it('round-trips an opaque base64url cursor of each sort', () => {
    for (const c of [
      { sort: 'newest' as const, key: 1_795_283_750_123_456, id },
      { sort: 'price' as const, key: 150000, id },
      { sort: 'relevance' as const, key: 0.0607927, id },
    ]) {
      const text = encodeCursor(c);
      expect(text).to.match(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(text, c.sort)).to.deep.equal(c);
    }
  });

  it('rejects garbage with 400, a cursor of another sort and malformed keys with 422, on query.cursor', () => {
    const bad = [
      ['%%%', 'newest'],
      [Buffer.from('{"s":"newest"}').toString('base64url'), 'newest'],
      [encodeCursor({ sort: 'price', key: 100, id }), 'newest'],
      [encodeCursor({ sort: 'price', key: 1.5, id }), 'price'],
      [encodeCursor({ sort: 'newest', key: '2026-02-31 10:00:00+00' as never, id }), 'newest'],
      [encodeCursor({ sort: 'newest', key: "2026-01-01'; drop table listings; --" as never, id }), 'newest'],
      [encodeCursor({ sort: 'price', key: 1, id: 'not-a-uuid' }), 'price'],
    ] as const;
    for (const [text, sort] of bad) {
      let err: unknown;
      try {
        decodeCursor(text, sort);
      } catch (e) {
        err = e;
      }
      expect(err, text).to.be.instanceOf(HttpError);
      expect((err as HttpError).statusCode, text).to.equal(text === '%%%' ? 400 : 422);
      expect((err as HttpError).details).to.deep.equal([{ location: 'query', field: 'cursor', message: (err as HttpError).message.replace('Invalid query.cursor: ', '') }]);
    }
  });

  it('rejects cursor keys Postgres could not take (out-of-range real, impossible dates, huge prices) with 422 on query.cursor', () => {
    const forged = (s: string, k: unknown) => Buffer.from(JSON.stringify({ s, k, id })).toString('base64url');
    const bad: [string, 'newest' | 'price' | '-price' | 'relevance'][] = [
      [forged('relevance', 1e300), 'relevance'],
      [forged('relevance', 1e-300), 'relevance'],
      [forged('relevance', 1e39), 'relevance'],
      [forged('relevance', -0.5), 'relevance'],
      [forged('relevance', '0.5'), 'relevance'],
      [forged('newest', '0000-01-01 00:00:00+00'), 'newest'],
      [forged('newest', '2026-01-01 00:00:00+16'), 'newest'],
      [forged('newest', '2026-01-01 00:00:00+00'), 'newest'],
      [forged('newest', 1e300), 'newest'],
      [forged('newest', 2 ** 60), 'newest'],
      [forged('newest', 1.5), 'newest'],
      [forged('price', 1e300), 'price'],
      [forged('-price', 2 ** 40), '-price'],
      [forged('price', -1), 'price'],
    ];
    for (const [text, sort] of bad) {
      let err: unknown;
      try {
        decodeCursor(text, sort);
      } catch (e) {
        err = e;
      }
      expect(err, Buffer.from(text, 'base64url').toString()).to.be.instanceOf(HttpError);
      expect((err as HttpError).statusCode).to.equal(422);
      expect((err as HttpError).details).to.deep.equal([{ location: 'query', field: 'cursor', message: 'its sort key is malformed' }]);
    }
    for (const [sort, k] of [
      ['relevance', 0],
      ['relevance', 1e-20],
      ['relevance', 0.0607927],
      ['newest', 0],
      ['newest', 1_767_744_000_123_456],
      ['price', 0],
      ['-price', 2_000_000_000],
    ] as const) {
      expect(decodeCursor(forged(sort, k), sort).key, `${sort} ${k}`).to.equal(k);
    }
  });

  it('searches only active unexpired listings, both languages, ranked by relevance when there is text', () => {
    const { sql, params, sort } = buildSearchSql(parse({ q: 'jument baie' }));
    expect(sort).to.equal('relevance');
    expect(sql).to.contain(`l.status = 'active'`).and.contain('l.expires_at > now()');
    expect(sql).to.contain(`websearch_to_tsquery('english', ?) || websearch_to_tsquery('french', ?)`);
    // The page is ranked among the candidates; only its 21 rows are joined to their columns.
    expect(sql).to.match(/order by rank desc, c\.id desc\s+limit 21\)/);
    expect(sql).to.match(/order by r\.rank desc, l\.id desc$/);
    // Rank, the newest-window match, the GIN match and the walk each bind the text for both languages.
    expect(params).to.deep.equal(Array(8).fill('jument baie'));
    expect(buildSearchSql(parse({})).sort).to.equal('newest');
  });

  it('ranks only the N newest matches by relevance: a bounded newest window, else the cheaper of a newest-first walk and every GIN match; filters and age join in all', () => {
    const built = buildSearchSql(parse({ q: 'mare', type: 'sale', minAge: '4' }), new Date('2026-06-01T00:00:00Z'), { relevanceCandidates: 50 });
    // The window and the walk match on the indexed copy of the document, or the table's when it did not fit the index.
    const vector = escape(`coalesce(l.search_head, (select x.search_vector from listings x where x.id = l.id)) as vector`);
    expect(built.sql).to.match(new RegExp(`with newest as materialized \\(\\s+select w\\.id, w\\.published_at, case when w\\.vector @@ .* then w\\.vector end as vector\\s+from \\(select l\\.id, l\\.published_at, ${vector}\\s+from listings l join horses`));
    expect(built.sql).to.match(/order by l\.published_at desc, l\.id desc\s+limit 100\) w\),/);
    expect(built.sql).to.match(/recent as materialized \(\s+select id, vector from newest where vector is not null order by published_at desc, id desc limit 50\)/);
    // The window's match count k picks exactly one branch: k >= N, the walk from (window / active) × sqrt(N × index pages), else the GIN.
    const k = '\\(select count\\(\\*\\) from recent\\)';
    const walkFrom = escape(`(select 100::float8 / greatest(reltuples, 1) * sqrt(50::float8 * relpages) from pg_class where oid = 'listings_active_newest_index'::regclass)`);
    expect(built.sql).to.match(new RegExp(`where false and l\\.status = 'active'`));
    // The walk goes on after the window's last entry; its limit is hidden from the planner (a
    // sub-select), so it cannot choose to sort every listing; it takes what the window lacks.
    expect(built.sql).to.contain('and (l.published_at, l.id) < (select published_at, id from newest order by published_at, id limit 1)');
    expect(built.sql).to.match(/limit \(select 9223372036854775807::bigint\)\) w\s+where w\.vector @@ .*\s+limit \(select greatest\(0, 50 - count\(\*\)\) from recent\)\)/);
    expect(built.sql).to.match(new RegExp(`fewest as materialized \\(\\s+select l\\.id, l\\.published_at, l\\.search_vector as vector from listings l join horses h on h\\.id = l\\.horse_id\\s+where ${k} < 50 and l\\.status = 'active'`));
    expect(built.sql.match(/join horses h on h\.id = l\.horse_id/g)).to.have.length(4);
    expect(built.sql.split('?').length - 1).to.equal(built.params.length);
    // In placeholder order: window match, window filters, GIN branch (match + filters), walk (filters + match), rank.
    expect(built.params).to.deep.equal(['mare', 'mare', 'sale', '2022-06-01', 'mare', 'mare', 'sale', '2022-06-01', 'sale', '2022-06-01', 'mare', 'mare', 'mare', 'mare']);
    // Each placeholder sits where its value belongs (the text before it names the column).
    const before = built.sql.split('?').slice(0, -1);
    built.params.forEach((value, i) => {
      const expected = { sale: /l\.type = $/, '2022-06-01': /h\.birth_date <= $/, mare: /websearch_to_tsquery\('(english|french)', $/ }[value as string];
      expect(before[i], `placeholder ${i} (${String(value)})`).to.match(expected!);
    });
    // Filtered relevance never walks: the window's k counts filtered rows (see search.ts).
    expect(built.sql).to.match(new RegExp(`from recent where ${k} >= 50 or false\\s+union all`));
    expect(buildSearchSql(parse({ q: 'mare' }), new Date(), { relevanceCandidates: 50 }).sql).to.match(new RegExp(`from recent where ${k} >= 50 or ${k} < 50 and ${k} >= ${walkFrom}\\s+union all`));
    expect(buildSearchSql(parse({ q: 'mare' })).sql).to.contain('limit 1000) w),');
    // Other sorts list every match: no candidate limit.
    expect(buildSearchSql(parse({ q: 'mare', sort: 'newest' })).sql).not.to.contain('recent');
  });

  it('binds every filter as a parameter, in placeholder order, and joins horses only for age', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const built = buildSearchSql(parse({ type: 'sale', minPrice: '100', maxPrice: '900', currency: 'EUR', country: 'fr', breed: 'KWPN', minAge: '4', maxAge: '8', sort: 'price' }), now);
    expect(built.sql.split('?').length - 1).to.equal(built.params.length);
    expect(built.params).to.deep.equal(['sale', 100, 900, 'EUR', 'FR', 'KWPN', '2022-06-01', '2017-06-01']);
    expect(built.sql).to.match(/\bjoin horses h/).and.not.match(/left join horses/);
    expect(buildSearchSql(parse({})).sql).to.contain('left join horses');
  });

  it('continues after the cursor row with a keyset condition matching the sort', () => {
    const c = encodeCursor({ sort: '-price', key: 5000, id });
    const built = buildSearchSql(parse({ sort: '-price', currency: 'EUR', cursor: c }));
    expect(built.sql).to.contain('(l.price_cents, l.id) < (?, ?::uuid)');
    expect(built.params).to.deep.equal(['EUR', 5000, id]);
    const newest = buildSearchSql(parse({ cursor: encodeCursor({ sort: 'newest', key: 1_767_744_000_123_456, id }) }));
    expect(newest.sql).to.contain(`(l.published_at, l.id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::uuid)`);
    expect(newest.params).to.deep.equal([1_767_744_000_123_456, id]);
    const rel = buildSearchSql(parse({ q: 'mare', cursor: encodeCursor({ sort: 'relevance', key: 0.5, id }) }));
    expect(rel.sql.split('?').length - 1).to.equal(rel.params.length);
    expect(rel.params.slice(-2)).to.deep.equal([0.5, id]);
  });

  it('gives a next cursor only when more rows than the limit came back', () => {
    const row = (n: number) => ({ id: `${id.slice(0, -1)}${n}`, price_cents: n * 100, published_key: `176774400000000${n}`, rank: 0.1 }) as unknown as SearchRow;
    expect(nextCursor([row(1), row(2)], 2, 'price')).to.equal(null);
    const next = nextCursor([row(1), row(2), row(3)], 2, 'price')!;
    expect(decodeCursor(next, 'price')).to.deep.equal({ sort: 'price', key: 200, id: row(2).id });
    expect(decodeCursor(nextCursor([row(1), row(2), row(3)], 2, 'newest')!, 'newest')).to.deep.equal({ sort: 'newest', key: 1767744000000002, id: row(2).id });
  });

  it('validates the query: relevance needs text, ranges must be ordered, country must be real', () => {
    expect(SearchListingsQuery.safeParse({ sort: 'relevance' }).success).to.equal(false);
    expect(SearchListingsQuery.safeParse({ minPrice: '10', maxPrice: '5' }).success).to.equal(false);
    expect(SearchListingsQuery.safeParse({ minAge: '9', maxAge: '5' }).success).to.equal(false);
    expect(SearchListingsQuery.safeParse({ country: 'QQ' }).success).to.equal(false);
    expect(SearchListingsQuery.safeParse({ limit: '51' }).success).to.equal(false);
    expect(SearchListingsQuery.safeParse({ minPrice: '-1' }).success).to.equal(false);
  });
});
