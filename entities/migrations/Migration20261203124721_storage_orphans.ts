import { Migration } from '@mikro-orm/migrations';

export class Migration20261203124721_storage_orphans extends Migration {

  override name = 'Migration20261203124721_storage_orphans';

  override up(): void | Promise<void> {
    this.addSql(`create table "storage_orphans" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "key" varchar(255) not null, "kind" text not null, "attempts" int not null default 0, "last_error" text null, "last_tried_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "storage_orphans" add constraint "storage_orphans_key_unique" unique ("key");`);

    this.addSql(`alter table "storage_orphans" add constraint "storage_orphans_kind_check" check ("kind" in ('health_attachment'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "storage_orphans" cascade;`);
  }

}
