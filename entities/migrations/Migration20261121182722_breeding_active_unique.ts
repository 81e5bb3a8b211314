import { Migration } from '@mikro-orm/migrations';

export class Migration20261121182722_breeding_active_unique extends Migration {

  override name = 'Migration20261121182722_breeding_active_unique';

  override up(): void | Promise<void> {
    this.addSql(`create unique index "pregnancies_mare_active_unique" on "pregnancies" ("mare_id") where "status" in ('tracking', 'confirmed', 'twins');`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "pregnancies_mare_active_unique";`);
  }

}
