import { Migration } from '@mikro-orm/migrations';

/**
 * Relevance search reads the newest-first index only (api/marketplace/search.ts): the index
 * carries the search document and the filter columns, so checking thousands of candidates
 * reads index pages instead of one table page each (5,205 buffers → ~1,200 for a 4% word at
 * 100k listings).
 *
 * - `search_head`: the search_vector again, or null when it might not fit a btree entry
 *   (2,704 bytes at most; the other included columns take up to ~500). The bound is on the
 *   text form plus 4 bytes per lexeme, which is never less than the stored size, so an
 *   insert can never fail with "index row size exceeds maximum". A 10,000-character
 *   description does not fit: the search reads that row's search_vector from the table.
 * - autovacuum: an index-only scan skips the table only for pages the visibility map marks
 *   all-visible, and every view of a listing updates its row (`views + 1`), which clears its
 *   page's bit. Vacuuming after 1% of rows changed (default 20%) keeps the map fresh; a page
 *   not yet vacuumed costs one table read per entry on it, what every entry cost before.
 */
export class Migration20261203160000_search_index_only_relevance extends Migration {

  override name = 'Migration20261203160000_search_index_only_relevance';

  override up(): void | Promise<void> {
    this.addSql(`create function "listing_search_head"(v tsvector) returns tsvector language plpgsql immutable strict parallel safe as $$
begin
  return case when octet_length(v::text) + 4 * length(v) <= 2000 then v end;
end
$$;`);
    this.addSql(`alter table "listings" add column "search_head" tsvector generated always as (listing_search_head(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('french'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(breed, '')), 'B') || setweight(to_tsvector('french'::regconfig, coalesce(breed, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C') || setweight(to_tsvector('french'::regconfig, coalesce(description, '')), 'C'))) stored null;`);
    this.addSql(`drop index "listings_active_newest_index";`);
    this.addSql(`create index "listings_active_newest_index" on "listings" ("published_at" desc, "id" desc) include ("expires_at", "type", "country", "currency", "price_cents", "breed", "horse_id", "search_head") where status = 'active';`);
    this.addSql(`alter table "listings" set (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 200, autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_insert_threshold = 200);`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "listings" reset (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold);`);
    this.addSql(`drop index "listings_active_newest_index";`);
    this.addSql(`create index "listings_active_newest_index" on "listings" ("published_at" desc, "id" desc) where status = 'active';`);
    this.addSql(`alter table "listings" drop column "search_head";`);
    this.addSql(`drop function "listing_search_head"(tsvector);`);
  }

}
