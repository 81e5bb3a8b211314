import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175254_breeding extends Migration {

  override name = 'Migration20261121175254_breeding';

  override up(): void | Promise<void> {
    this.addSql(`create table "pregnancies" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "mare_id" uuid not null, "created_by_id" uuid not null, "stallion_id" uuid null, "stallion_name" varchar(255) null, "cover_dates" jsonb not null, "ovulation_date" date null, "method" text not null, "vet_name" varchar(255) null, "vet_contact" varchar(255) null, "status" text not null default 'tracking', "expected_foaling_date" date not null, "options" jsonb not null, "previous_gestation_days" jsonb not null, "notes" text null, "outcome_date" date null, "foal_id" uuid null, "ended_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "pregnancies_mare_id_index" on "pregnancies" ("mare_id");`);
    this.addSql(`create index "pregnancies_created_by_id_index" on "pregnancies" ("created_by_id");`);
    this.addSql(`create index "pregnancies_organization_id_status_index" on "pregnancies" ("organization_id", "status");`);

    this.addSql(`create table "pregnancy_checks" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "pregnancy_id" uuid not null, "kind" text not null, "date" date not null, "result" text not null, "notes" text null, "recorded_by_id" uuid not null, primary key ("id"));`);
    this.addSql(`create index "pregnancy_checks_pregnancy_id_index" on "pregnancy_checks" ("pregnancy_id");`);

    this.addSql(`create table "reminder_logs" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "pregnancy_id" uuid not null, "milestone_id" varchar(255) not null, "title" varchar(255) not null, "due_date" date not null, "sent_at" timestamptz not null, "channels" jsonb not null, primary key ("id"));`);
    this.addSql(`alter table "reminder_logs" add constraint "reminder_logs_pregnancy_id_milestone_id_unique" unique ("pregnancy_id", "milestone_id");`);

    this.addSql(`create table "reminder_preferences" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "lead_days" int not null, "email" boolean not null, "in_app" boolean not null, primary key ("id"));`);
    this.addSql(`alter table "reminder_preferences" add constraint "reminder_preferences_user_id_unique" unique ("user_id");`);

    this.addSql(`alter table "pregnancies" add constraint "pregnancies_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
    this.addSql(`alter table "pregnancies" add constraint "pregnancies_mare_id_foreign" foreign key ("mare_id") references "horses" ("id") on delete cascade;`);
    this.addSql(`alter table "pregnancies" add constraint "pregnancies_method_check" check ("method" in ('natural', 'ai_fresh', 'ai_cooled', 'ai_frozen', 'embryo_transfer'));`);
    this.addSql(`alter table "pregnancies" add constraint "pregnancies_status_check" check ("status" in ('tracking', 'confirmed', 'twins', 'lost', 'foaled', 'not_pregnant'));`);

    this.addSql(`alter table "pregnancy_checks" add constraint "pregnancy_checks_pregnancy_id_foreign" foreign key ("pregnancy_id") references "pregnancies" ("id") on delete cascade;`);
    this.addSql(`alter table "pregnancy_checks" add constraint "pregnancy_checks_kind_check" check ("kind" in ('pregnancy', 'heartbeat', 'confirmation', 'sexing', 'other'));`);
    this.addSql(`alter table "pregnancy_checks" add constraint "pregnancy_checks_result_check" check ("result" in ('positive', 'negative', 'twins'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "pregnancy_checks" drop constraint "pregnancy_checks_pregnancy_id_foreign";`);

    this.addSql(`drop table if exists "pregnancies" cascade;`);
    this.addSql(`drop table if exists "pregnancy_checks" cascade;`);
    this.addSql(`drop table if exists "reminder_logs" cascade;`);
    this.addSql(`drop table if exists "reminder_preferences" cascade;`);
  }

}
