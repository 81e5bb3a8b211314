import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175623_analysis extends Migration {

  override name = 'Migration20261121175623_analysis';

  override up(): void | Promise<void> {
    this.addSql(`create table "analysis_cache" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "cache_key" varchar(255) not null, "sandbox" boolean not null, "result" jsonb not null, "provider" varchar(255) not null, "model" varchar(255) not null, "expires_at" timestamptz not null, primary key ("id"));`);
    this.addSql(`alter table "analysis_cache" add constraint "analysis_cache_cache_key_unique" unique ("cache_key");`);
    this.addSql(`create index "analysis_cache_expires_at_index" on "analysis_cache" ("expires_at");`);

    this.addSql(`create table "analyses" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "horse_id" uuid not null, "user_id" uuid not null, "type" text not null, "status" text not null default 'pending', "stage" varchar(255) not null default 'queued', "credits" int not null, "video_key" varchar(255) not null, "video_sha256" varchar(255) null, "video_duration_sec" double precision null, "workflow_id" varchar(255) not null, "result" jsonb null, "provider" varchar(255) null, "model" varchar(255) null, "fallback_used" boolean not null default false, "cache_hit" boolean not null default false, "sandbox" boolean not null default false, "input_tokens" int null, "output_tokens" int null, "estimated_cost_usd" double precision null, "latency_ms" int null, "error_type" varchar(255) null, "error" text null, "started_at" timestamptz null, "completed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "analyses_user_id_index" on "analyses" ("user_id");`);
    this.addSql(`alter table "analyses" add constraint "analyses_workflow_id_unique" unique ("workflow_id");`);
    this.addSql(`create index "analyses_horse_id_created_at_index" on "analyses" ("horse_id", "created_at");`);
    this.addSql(`create index "analyses_status_created_at_index" on "analyses" ("status", "created_at");`);

    this.addSql(`alter table "analyses" add constraint "analyses_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
    this.addSql(`alter table "analyses" add constraint "analyses_horse_id_foreign" foreign key ("horse_id") references "horses" ("id") on delete cascade;`);
    this.addSql(`alter table "analyses" add constraint "analyses_type_check" check ("type" in ('locomotion', 'jumping', 'dressage', 'behavior', 'conformation'));`);
    this.addSql(`alter table "analyses" add constraint "analyses_status_check" check ("status" in ('pending', 'running', 'completed', 'failed', 'canceled'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "analysis_cache" cascade;`);
    this.addSql(`drop table if exists "analyses" cascade;`);
  }

}
