import { Migration } from '@mikro-orm/migrations';

export class Migration20261121174438_foundation extends Migration {

  override name = 'Migration20261121174438_foundation';

  override up(): void | Promise<void> {
    this.addSql(`create table "credit_accounts" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "balance" int not null default 0, "reserved" int not null default 0, primary key ("id"));`);
    this.addSql(`alter table "credit_accounts" add constraint "credit_accounts_user_id_unique" unique ("user_id");`);

    this.addSql(`create table "credit_transactions" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "kind" text not null, "amount" int not null, "key" varchar(255) not null, "reason" varchar(255) not null, primary key ("id"));`);
    this.addSql(`create index "credit_transactions_user_id_index" on "credit_transactions" ("user_id");`);
    this.addSql(`alter table "credit_transactions" add constraint "credit_transactions_key_unique" unique ("key");`);

    this.addSql(`create table "email_outbox" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "key" varchar(255) not null, "user_id" uuid null, "to" varchar(255) not null, "subject" varchar(255) not null, "text" text not null, "html" text null, "status" text not null default 'pending', "provider" varchar(255) null, "provider_message_id" varchar(255) null, "attempts" int not null default 0, "last_error" text null, "sent_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "email_outbox" add constraint "email_outbox_key_unique" unique ("key");`);
    this.addSql(`create index "email_outbox_user_id_index" on "email_outbox" ("user_id");`);

    this.addSql(`create table "notifications" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "key" varchar(255) not null, "user_id" uuid not null, "kind" varchar(255) not null, "title" varchar(255) not null, "body" text not null, "data" jsonb null, "read_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "notifications" add constraint "notifications_key_unique" unique ("key");`);
    this.addSql(`create index "notifications_user_id_created_at_index" on "notifications" ("user_id", "created_at");`);

    this.addSql(`create table "organizations" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "name" varchar(255) not null, "owner_id" uuid not null, primary key ("id"));`);
    this.addSql(`create index "organizations_owner_id_index" on "organizations" ("owner_id");`);

    this.addSql(`create table "horses" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "name" varchar(255) not null, "breed" varchar(255) null, "birth_date" date null, "gender" text not null, "color" varchar(255) null, "height_cm" int null, "weight_kg" int null, "ueln" varchar(255) null, "microchip" varchar(255) null, "sire_id" uuid null, "sire_name" varchar(255) null, "dam_id" uuid null, "dam_name" varchar(255) null, "images" jsonb not null default '[]', "created_by_id" uuid not null, primary key ("id"));`);
    this.addSql(`create index "horses_organization_id_name_index" on "horses" ("organization_id", "name");`);

    this.addSql(`create table "users" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "email" varchar(255) not null, "password_hash" varchar(255) not null, "first_name" varchar(255) not null, "last_name" varchar(255) not null, "token_version" int not null default 0, "plan" text not null default 'free', "stripe_customer_id" varchar(255) null, "last_login_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);
    this.addSql(`alter table "users" add constraint "users_stripe_customer_id_unique" unique ("stripe_customer_id");`);

    this.addSql(`create table "refresh_tokens" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "family_id" uuid not null, "token_hash" varchar(255) not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, "user_agent" varchar(255) null, primary key ("id"));`);
    this.addSql(`create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id");`);
    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_token_hash_unique" unique ("token_hash");`);

    this.addSql(`create table "memberships" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "user_id" uuid not null, "role" text not null, primary key ("id"));`);
    this.addSql(`alter table "memberships" add constraint "memberships_organization_id_user_id_unique" unique ("organization_id", "user_id");`);

    this.addSql(`create table "api_keys" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "name" varchar(255) not null, "prefix" varchar(255) not null, "key_hash" varchar(255) not null, "last_used_at" timestamptz null, "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_key_hash_unique" unique ("key_hash");`);

    this.addSql(`alter table "credit_transactions" add constraint "credit_transactions_kind_check" check ("kind" in ('grant', 'reserve', 'commit', 'release'));`);

    this.addSql(`alter table "email_outbox" add constraint "email_outbox_status_check" check ("status" in ('pending', 'sent', 'failed'));`);

    this.addSql(`alter table "horses" add constraint "horses_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
    this.addSql(`alter table "horses" add constraint "horses_gender_check" check ("gender" in ('mare', 'stallion', 'gelding'));`);

    this.addSql(`alter table "users" add constraint "users_plan_check" check ("plan" in ('free', 'premium', 'pro'));`);

    this.addSql(`alter table "refresh_tokens" add constraint "refresh_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`);

    this.addSql(`alter table "memberships" add constraint "memberships_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
    this.addSql(`alter table "memberships" add constraint "memberships_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`);
    this.addSql(`alter table "memberships" add constraint "memberships_role_check" check ("role" in ('owner', 'admin', 'member'));`);

    this.addSql(`alter table "api_keys" add constraint "api_keys_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "horses" drop constraint "horses_organization_id_foreign";`);
    this.addSql(`alter table "memberships" drop constraint "memberships_organization_id_foreign";`);
    this.addSql(`alter table "refresh_tokens" drop constraint "refresh_tokens_user_id_foreign";`);
    this.addSql(`alter table "memberships" drop constraint "memberships_user_id_foreign";`);
    this.addSql(`alter table "api_keys" drop constraint "api_keys_user_id_foreign";`);

    this.addSql(`drop table if exists "credit_accounts" cascade;`);
    this.addSql(`drop table if exists "credit_transactions" cascade;`);
    this.addSql(`drop table if exists "email_outbox" cascade;`);
    this.addSql(`drop table if exists "notifications" cascade;`);
    this.addSql(`drop table if exists "organizations" cascade;`);
    this.addSql(`drop table if exists "horses" cascade;`);
    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "refresh_tokens" cascade;`);
    this.addSql(`drop table if exists "memberships" cascade;`);
    this.addSql(`drop table if exists "api_keys" cascade;`);
  }

}
