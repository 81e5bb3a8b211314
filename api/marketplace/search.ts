import { MAX_PRICE_CENTS, birthDateRange } from '../../domain/listings';
import { HttpError } from '../http/errors';
import { CURSOR_PATTERN, type ListingSort, type SearchListingsQuery } from './schemas';
import { liveListingSql } from '../../entities/marketplace';

/**
 * Public marketplace search as one SQL statement (the API and bench/search.ts run the
 * same text). Only active, unexpired listings; full text over the generated
 * `search_vector` (English and French) with the GIN index; filters on the partial btree
 * indexes; keyset (cursor) pagination on the sort key + id, so page 500 costs what page 1 costs.
 *
 * Relevance is ranked over a bounded candidate set: the `relevanceCandidates` newest
 * listings that match (SEARCH_RELEVANCE_CANDIDATES, default 500). ts_rank cannot come from
 * an index, so ranking every match of a very common word ("mare": ~40% of listings) meant
 * reading and ranking tens of thousands of rows per search (71 ms at 100k listings). The
 * candidates come from the newest-first index (a common word) or from the GIN index (a
 * rare one); either way at most N rows are ranked. Trade-off: when more
 * than N listings match, an older listing outside the N newest matches is not in the
 * relevance results (newest and price sorts still list every match).
 *
 * The newest-first walks read no table rows: listings_active_newest_index includes the
 * filter columns and `search_head`, the search document when it fits an index entry
 * (Migration20261203160000_search_index_only_relevance), so they are index-only scans
 * while autovacuum keeps the visibility map set (the table vacuums at 1% changed rows).
 */

export const DEFAULT_RELEVANCE_CANDIDATES = 500;
/** How many of the newest listings `recent` scans for a common word: N × this. */
export const RELEVANCE_WINDOW_FACTOR = 2;
/**
 * The walk's inner LIMIT: no bound in practice, but written as a sub-select so the planner
 * cannot see its value. A visible (or absent) limit lets it plan the walk from its own guess
 * of the word's frequency, and for correlated words ("selle français": it multiplied two 5%
 * words into 0.25%, there are 4%) it sorted every active listing (18,000 pages). An unknown
 * limit is planned as 10% of the rows, which only the newest-first index serves cheaply.
 */
const WALK_UNBOUNDED = '9223372036854775807';

/** Both languages' reading of the user's text: "juments" → jument, "mares" → mare. */
const TSQUERY = `(websearch_to_tsquery('english', ?) || websearch_to_tsquery('french', ?))`;

export interface CursorKey {
  sort: ListingSort;
  /**
   * newest: published_at as whole microseconds since the Unix epoch (exact, no time zone
   * text to parse); price: cents; relevance: the ts_rank (a Postgres real).
   */
  key: number;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The range Postgres accepts for a `real` (float4): larger overflows, smaller non-zero underflows. */
const REAL_MAX = 3.4028234663852886e38;
const REAL_MIN_NORMAL = 1.1754943508222875e-38;

/** Whether a decoded sort key is one this API could have produced (anything else could make Postgres throw). */
export function isValidCursorKey(sort: ListingSort, k: unknown): k is number {
  if (typeof k !== 'number' || !Number.isFinite(k)) return false;
  switch (sort) {
    case 'newest':
      // Whole microseconds; ±2^53 µs is 1685–2255, well inside timestamptz.
      return Number.isSafeInteger(k);
    case 'price':
    case '-price':
      return Number.isInteger(k) && k >= 0 && k <= MAX_PRICE_CENTS;
    case 'relevance':
      // ts_rank is never negative.
      return k === 0 || (k >= REAL_MIN_NORMAL && k <= REAL_MAX);
  }
}

/** Opaque to clients: base64url of the sort, the last row's sort key and id. */
export function encodeCursor(c: CursorKey): string {
  return Buffer.from(JSON.stringify({ s: c.sort, k: c.key, id: c.id })).toString('base64url');
}

/**
 * Throws for anything that is not a cursor of this sort: 400 when it is not even base64url
 * (the document's pattern), 422 when it is well-formed text but no cursor this API issued
 * (a rule the document cannot state).
 */
export function decodeCursor(text: string, sort: ListingSort): CursorKey {
  const bad = (why: string, status = 422) =>
    new HttpError(status, `Invalid query.cursor: ${why}`, [{ location: 'query', field: 'cursor', message: why }]);
  if (!new RegExp(CURSOR_PATTERN).test(text)) throw bad('not a cursor returned by this API', 400);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor returned by this API');
  }
  const c = raw as { s?: unknown; k?: unknown; id?: unknown };
  if (!c || typeof c !== 'object' || typeof c.id !== 'string' || !UUID.test(c.id)) throw bad('not a cursor returned by this API');
  if (c.s !== sort) throw bad(`it belongs to sort=${String(c.s)}, not sort=${sort}`);
  if (!isValidCursorKey(sort, c.k)) throw bad('its sort key is malformed');
  return { sort, key: c.k, id: c.id };
}

export interface SearchSql {
  sql: string;
  params: unknown[];
  sort: ListingSort;
}

/** Builds the search statement; `limit + 1` rows are fetched to know whether a next page exists. */
export interface SearchSqlOptions {
  /** SEARCH_RELEVANCE_CANDIDATES: relevance ranks the N newest matches. */
  relevanceCandidates?: number;
  /**
   * How relevance finds the N newest matches when the newest window holds fewer than N:
   * measured per query (default), or forced, for tests and EXPLAIN comparisons (both give
   * the same candidates; only the cost differs).
   */
  relevancePath?: 'walk' | 'gin';
}

export function buildSearchSql(query: SearchListingsQuery, now = new Date(), opts: SearchSqlOptions = {}): SearchSql {
  const sort: ListingSort = query.sort ?? (query.q ? 'relevance' : 'newest');
  const where: string[] = [liveListingSql('l')];
  const params: unknown[] = [];
  const selectParams: unknown[] = [];

  let rank = 'null::real';
  if (query.q) {
    where.push(`l.search_vector @@ ${TSQUERY}`);
    params.push(query.q, query.q);
    rank = `ts_rank(l.search_vector, ${TSQUERY})`;
    selectParams.push(query.q, query.q);
  }
  if (query.type) {
    where.push('l.type = ?');
    params.push(query.type);
  }
  if (query.minPrice !== undefined) {
    where.push('l.price_cents >= ?');
    params.push(query.minPrice);
  }
  if (query.maxPrice !== undefined) {
    where.push('l.price_cents <= ?');
    params.push(query.maxPrice);
  }
  if (query.currency) {
    where.push('l.currency = ?');
    params.push(query.currency);
  }
  if (query.country) {
    where.push('l.country = ?');
    params.push(query.country);
  }
  if (query.breed) {
    where.push('lower(l.breed) = lower(?)');
    params.push(query.breed);
  }
  const ageFilter = query.minAge !== undefined || query.maxAge !== undefined;
  if (ageFilter) {
    const range = birthDateRange(now, query.minAge, query.maxAge);
    if (range.bornOnOrBefore) {
      where.push('h.birth_date <= ?::date');
      params.push(range.bornOnOrBefore);
    }
    if (range.bornAfter) {
      where.push('h.birth_date > ?::date');
      params.push(range.bornAfter);
    }
  }

  const orderBy = {
    newest: 'l.published_at desc, l.id desc',
    price: 'l.price_cents asc, l.id asc',
    '-price': 'l.price_cents desc, l.id desc',
    relevance: 'rank desc, l.id desc',
  }[sort];

  const cursorWhere: string[] = [];
  const cursorParams: unknown[] = [];
  if (query.cursor) {
    const c = decodeCursor(query.cursor, sort);
    if (sort === 'newest') cursorWhere.push(`(l.published_at, l.id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::uuid)`);
    else if (sort === 'price') cursorWhere.push('(l.price_cents, l.id) > (?, ?::uuid)');
    else if (sort === '-price') cursorWhere.push('(l.price_cents, l.id) < (?, ?::uuid)');
    else {
      cursorWhere.push(`(ts_rank(l.search_vector, ${TSQUERY}), l.id) < (?::real, ?::uuid)`);
      cursorParams.push(query.q, query.q);
    }
    cursorParams.push(c.key, c.id);
  }

  const columnsWith = (rankColumn: string) => `l.id, l.type, l.status, l.title, l.description, l.breed, l.price_cents, l.currency, l.negotiable,
       l.images, l.videos, l.city, l.country, l.latitude, l.longitude, l.contact_email, l.contact_phone,
       l.views, l.favorites_count, l.published_at, (extract(epoch from l.published_at) * 1000000)::bigint::text as published_key, l.expires_at,
       h.id as horse_id, h.name as horse_name, h.breed as horse_breed, h.birth_date::text as horse_birth_date, h.gender as horse_gender,
       ${rankColumn} as rank`;
  const columns = columnsWith(rank);

  if (sort === 'relevance' && query.q) {
    // Rank only the N newest matches (see the note at the top); the cursor pages within them.
    // Postgres's estimate of a word's frequency is too rough to choose how to find them (it
    // walked 22,000 rows for a 4% word), so `newest` measures it: the newest window
    // (N × RELEVANCE_WINDOW_FACTOR listings, bounded cost) is checked first, and its k
    // matches (`recent`, the N newest of them) decide, each branch an InitPlan that runs
    // only when chosen:
    //  - k >= N: a common word; the window's matches are the candidates.
    //  - else walk on down the newest-first index from the window's last entry until N
    //    matches, about (N - k) × window / k more entries, or read every match through the
    //    GIN index, about k × active / window heap rows (`fewest`). The walk is index-only:
    //    listings_active_newest_index carries the filter columns and `search_head` (the
    //    search_vector, when it fits an index entry), so it reads index pages, P pages for
    //    all `active` entries: about N × window × P / (k × active) pages against
    //    k × active / window for the GIN, so it walks when k >= (window / active) × sqrt(N × P)
    //    (`walkFrom`). EXPLAIN at 100k listings: "jument" (4 %) walks ~11,000 entries in
    //    ~900 index pages where the GIN branch read ~3,050 heap pages.
    // The walk's order is fixed (see WALK_UNBOUNDED) and it starts after the window, so the
    // window's entries are read once. A listing whose document is too big for the index
    // (search_head null) is matched and ranked on its search_vector, read from the table
    // for that row only (`VECTOR`).
    const candidates = Math.max(1, Math.floor(opts.relevanceCandidates ?? DEFAULT_RELEVANCE_CANDIDATES));
    const window = candidates * RELEVANCE_WINDOW_FACTOR;
    const join = ageFilter ? 'join horses h on h.id = l.horse_id' : '';
    const filters = where.filter((w) => !w.includes('@@'));
    const filterParams = params.slice(2);
    const k = '(select count(*) from recent)';
    const walkFrom = `(select ${window}::float8 / greatest(reltuples, 1) * sqrt(${candidates}::float8 * relpages) from pg_class where oid = 'listings_active_newest_index'::regclass)`;
    const windowChosen = opts.relevancePath ? 'false' : `${k} >= ${candidates}`;
    // With filters (type, price, country, breed, age) the window's k counts filtered rows, so the
    // model above undercounts the entries a walk examines (and the age filter adds a horse
    // lookup per entry: "jument" + maxAge 4 walked every listing, 198,000 buffers): those
    // read the GIN matches when the window is short, as before the walk was index-only.
    const walkable = filters.length === 1 && !ageFilter; // only the live-listing rule
    const walkChosen = opts.relevancePath ? String(opts.relevancePath === 'walk') : walkable ? `${k} < ${candidates} and ${k} >= ${walkFrom}` : 'false';
    const ginChosen = opts.relevancePath ? String(opts.relevancePath === 'gin') : walkable ? `${k} < ${candidates} and ${k} < ${walkFrom}` : `${k} < ${candidates}`;
    const VECTOR = `coalesce(l.search_head, (select x.search_vector from listings x where x.id = l.id))`;
    // The candidates carry their vector, so ranking them reads no row again, and only the
    // page's rows are joined to their columns and horse (not all N).
    const sql = `with newest as materialized (
  select w.id, w.published_at, case when w.vector @@ ${TSQUERY} then w.vector end as vector
    from (select l.id, l.published_at, ${VECTOR} as vector
            from listings l ${join}
           where ${filters.join(' and ')}
           order by l.published_at desc, l.id desc
           limit ${window}) w),
recent as materialized (
  select id, vector from newest where vector is not null order by published_at desc, id desc limit ${candidates}),
fewest as materialized (
  select l.id, l.published_at, l.search_vector as vector from listings l ${join}
   where ${ginChosen} and ${where.join(' and ')}),
candidates as (
  select id, vector from recent where ${windowChosen} or ${walkChosen}
  union all
  (select w.id, w.vector from (select l.id, ${VECTOR} as vector from listings l ${join}
                      where ${walkChosen} and ${filters.join(' and ')}
                        and (l.published_at, l.id) < (select published_at, id from newest order by published_at, id limit 1)
                      order by l.published_at desc, l.id desc
                      limit (select ${WALK_UNBOUNDED}::bigint)) w
    where w.vector @@ ${TSQUERY}
    limit (select greatest(0, ${candidates} - count(*)) from recent))
  union all
  (select id, vector from fewest order by published_at desc, id desc limit ${candidates})),
ranked as (
  select c.id, ts_rank(c.vector, ${TSQUERY}) as rank
    from candidates c${query.cursor ? `\n   where (ts_rank(c.vector, ${TSQUERY}), c.id) < (?::real, ?::uuid)` : ''}
   order by rank desc, c.id desc
   limit ${query.limit + 1})
select ${columnsWith('r.rank')}
  from ranked r
  join listings l on l.id = r.id
  left join horses h on h.id = l.horse_id
 order by r.rank desc, l.id desc`;
    // Placeholders in text order: the window's match and filters, the GIN branch, the walk, the rank, the cursor.
    return { sql, params: [query.q, query.q, ...filterParams, ...params, ...filterParams, query.q, query.q, ...selectParams, ...cursorParams], sort };
  }

  const sql = `select ${columns}
  from listings l
  ${ageFilter ? 'join' : 'left join'} horses h on h.id = l.horse_id
 where ${[...where, ...cursorWhere].join('\n   and ')}
 order by ${orderBy}
 limit ${query.limit + 1}`;
  return { sql, params: [...selectParams, ...params, ...cursorParams], sort };
}

export interface SearchRow {
  id: string;
  type: string;
  status: string;
  title: string;
  description: string;
  breed: string | null;
  price_cents: number;
  currency: string;
  negotiable: boolean;
  images: string[];
  videos: string[];
  city: string | null;
  country: string | null;
  latitude: number | null;
  longitude: number | null;
  contact_email: string | null;
  contact_phone: string | null;
  views: number;
  favorites_count: number;
  published_at: Date | string;
  /** published_at in whole microseconds since the epoch (bigint as text). */
  published_key: string;
  expires_at: Date | string;
  horse_id: string | null;
  horse_name: string | null;
  horse_breed: string | null;
  horse_birth_date: string | null;
  horse_gender: string | null;
  rank: number | null;
}

/** The cursor of the next page, from the extra row fetched beyond the limit. */
export function nextCursor(rows: SearchRow[], limit: number, sort: ListingSort): string | null {
  if (rows.length <= limit) return null;
  const last = rows[limit - 1];
  const key = Number(sort === 'newest' ? last.published_key : sort === 'relevance' ? last.rank : last.price_cents);
  return encodeCursor({ sort, key, id: last.id });
}
