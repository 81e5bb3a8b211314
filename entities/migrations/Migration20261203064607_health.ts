import { Migration } from '@mikro-orm/migrations';

export class Migration20261203064607_health extends Migration {

  override name = 'Migration20261203064607_health';

  override up(): void | Promise<void> {
    this.addSql(`create table "health_record_audits" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "record_id" uuid not null, "horse_id" uuid not null, "action" text not null, "actor_id" uuid not null, "changes" jsonb not null, primary key ("id"));`);
    this.addSql(`create index "health_record_audits_horse_id_index" on "health_record_audits" ("horse_id");`);
    this.addSql(`create index "health_record_audits_record_id_created_at_index" on "health_record_audits" ("record_id", "created_at");`);

    this.addSql(`create table "health_reminder_logs" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "horse_id" uuid not null, "item_key" varchar(255) not null, "due_date" date not null, "stage" text not null, "sent_at" timestamptz not null, "recipients" jsonb not null, "channels" jsonb not null, primary key ("id"));`);
    this.addSql(`alter table "health_reminder_logs" add constraint "health_reminder_logs_horse_id_item_key_due_date_stage_unique" unique ("horse_id", "item_key", "due_date", "stage");`);

    this.addSql(`create table "health_share_links" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "horse_id" uuid not null, "token_hash" varchar(255) not null, "label" varchar(255) null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "created_by_id" uuid not null, "last_used_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "health_share_links_horse_id_index" on "health_share_links" ("horse_id");`);
    this.addSql(`alter table "health_share_links" add constraint "health_share_links_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "health_records" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "horse_id" uuid not null, "kind" text not null, "date" date not null, "details" jsonb not null, "notes" text null, "batch_id" uuid null, "created_by_id" uuid not null, "updated_by_id" uuid null, "deleted_at" timestamptz null, "deleted_by_id" uuid null, primary key ("id"));`);
    this.addSql(`create index "health_records_batch_id_index" on "health_records" ("batch_id");`);
    this.addSql(`create index "health_records_horse_kind_date_index" on "health_records" ("horse_id", "kind", "date");`);

    this.addSql(`create table "health_attachments" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "record_id" uuid not null, "organization_id" uuid not null, "storage_key" varchar(255) not null, "content_type" varchar(255) not null, "size" int not null, "filename" varchar(255) null, "uploaded_by_id" uuid not null, "deleted_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "health_attachments_record_id_index" on "health_attachments" ("record_id");`);
    this.addSql(`alter table "health_attachments" add constraint "health_attachments_storage_key_unique" unique ("storage_key");`);

    this.addSql(`create table "health_plan_overrides" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "horse_id" uuid not null, "item_key" varchar(255) not null, "enabled" boolean not null, "interval_days" int null, "updated_by_id" uuid not null, primary key ("id"));`);
    this.addSql(`alter table "health_plan_overrides" add constraint "health_plan_overrides_horse_id_item_key_unique" unique ("horse_id", "item_key");`);

    this.addSql(`create table "calendar_feeds" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "token_hash" varchar(255) not null, "label" varchar(255) null, "created_by_id" uuid not null, "revoked_at" timestamptz null, "last_used_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "calendar_feeds_organization_id_index" on "calendar_feeds" ("organization_id");`);
    this.addSql(`alter table "calendar_feeds" add constraint "calendar_feeds_token_hash_unique" unique ("token_hash");`);

    this.addSql(`alter table "health_record_audits" add constraint "health_record_audits_action_check" check ("action" in ('create', 'update', 'delete', 'attach', 'detach'));`);

    this.addSql(`alter table "health_reminder_logs" add constraint "health_reminder_logs_stage_check" check ("stage" in ('reminder', 'overdue'));`);

    this.addSql(`alter table "health_share_links" add constraint "health_share_links_horse_id_foreign" foreign key ("horse_id") references "horses" ("id") on delete cascade;`);

    this.addSql(`alter table "health_records" add constraint "health_records_horse_id_foreign" foreign key ("horse_id") references "horses" ("id") on delete cascade;`);
    this.addSql(`alter table "health_records" add constraint "health_records_kind_check" check ("kind" in ('vaccination', 'deworming', 'fecal_egg_count', 'farrier', 'dental', 'vet', 'test', 'document'));`);

    this.addSql(`alter table "health_attachments" add constraint "health_attachments_record_id_foreign" foreign key ("record_id") references "health_records" ("id") on delete cascade;`);

    this.addSql(`alter table "health_plan_overrides" add constraint "health_plan_overrides_horse_id_foreign" foreign key ("horse_id") references "horses" ("id") on delete cascade;`);

    this.addSql(`alter table "calendar_feeds" add constraint "calendar_feeds_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "health_attachments" drop constraint "health_attachments_record_id_foreign";`);

    this.addSql(`drop table if exists "health_record_audits" cascade;`);
    this.addSql(`drop table if exists "health_reminder_logs" cascade;`);
    this.addSql(`drop table if exists "health_share_links" cascade;`);
    this.addSql(`drop table if exists "health_records" cascade;`);
    this.addSql(`drop table if exists "health_attachments" cascade;`);
    this.addSql(`drop table if exists "health_plan_overrides" cascade;`);
    this.addSql(`drop table if exists "calendar_feeds" cascade;`);
  }

}
