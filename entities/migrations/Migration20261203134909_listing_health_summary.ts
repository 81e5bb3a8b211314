import { Migration } from '@mikro-orm/migrations';

export class Migration20261203134909_listing_health_summary extends Migration {

  override name = 'Migration20261203134909_listing_health_summary';

  override up(): void | Promise<void> {
    this.addSql(`alter table "listings" add "share_health_summary" boolean not null default false;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "listings" drop column "share_health_summary";`);
  }

}
