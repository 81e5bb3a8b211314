import { Migration } from '@mikro-orm/migrations';

export class Migration20261203133358_search_breed_newest extends Migration {

  override name = 'Migration20261203133358_search_breed_newest';

  override up(): void | Promise<void> {
    this.addSql(`drop index "listings_active_breed_index";`);
    this.addSql(`create index "listings_active_breed_newest_index" on "listings" (lower("breed"), "published_at" desc, "id" desc) where status = 'active';`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "listings_active_breed_newest_index";`);
    this.addSql(`CREATE INDEX listings_active_breed_index ON public.listings USING btree (lower((breed)::text)) WHERE (status = 'active'::text);`);
  }

}
