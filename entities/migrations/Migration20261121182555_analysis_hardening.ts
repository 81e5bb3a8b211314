import { Migration } from '@mikro-orm/migrations';

export class Migration20261121182555_analysis_hardening extends Migration {

  override name = 'Migration20261121182555_analysis_hardening';

  override up(): void | Promise<void> {
    this.addSql(`create table "analysis_requests" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "key" varchar(255) not null, "request_hash" varchar(255) not null, "analysis_id" uuid not null, "expires_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`create index "analysis_requests_expires_at_index" on "analysis_requests" ("expires_at");`);
    this.addSql(`alter table "analysis_requests" add constraint "analysis_requests_user_id_key_unique" unique ("user_id", "key");`);

    this.addSql(`alter table "analyses" add "closed_by" text null;`);
    this.addSql(`alter table "analyses" add constraint "analyses_closed_by_check" check ("closed_by" in ('workflow', 'api', 'reconcile'));`);

    this.addSql(`alter table "analysis_requests" add constraint "analysis_requests_analysis_id_foreign" foreign key ("analysis_id") references "analyses" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "analysis_requests" cascade;`);

    this.addSql(`alter table "analyses" drop constraint "analyses_closed_by_check";`);
    this.addSql(`alter table "analyses" drop column "closed_by";`);
  }

}
