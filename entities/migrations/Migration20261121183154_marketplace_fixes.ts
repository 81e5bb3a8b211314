import { Migration } from '@mikro-orm/migrations';

export class Migration20261121183154_marketplace_fixes extends Migration {

  override name = 'Migration20261121183154_marketplace_fixes';

  override up(): void | Promise<void> {
    this.addSql(`create index "horses_birth_date_index" on "horses" ("birth_date");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop index "horses_birth_date_index";`);
  }

}
