import { Migration } from '@mikro-orm/migrations';

export class Migration20261203093857_accounts_identity extends Migration {

  override name = 'Migration20261203093857_accounts_identity';

  override up(): void | Promise<void> {
    this.addSql(`create table "invitations" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "organization_id" uuid not null, "email" varchar(255) not null, "role" text not null, "invited_by" uuid not null, "status" text not null default 'pending', "expires_at" timestamptz not null, "responded_at" timestamptz null, "responded_by" uuid null, primary key ("id"));`);
    this.addSql(`create index "invitations_email_status_index" on "invitations" ("email", "status");`);
    this.addSql(`create index "invitations_organization_id_status_index" on "invitations" ("organization_id", "status");`);

    this.addSql(`create table "account_tokens" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "purpose" text not null, "token_hash" varchar(255) not null, "expires_at" timestamptz not null, "used_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "account_tokens" add constraint "account_tokens_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "account_tokens_user_id_purpose_created_at_index" on "account_tokens" ("user_id", "purpose", "created_at");`);

    this.addSql(`alter table "users" add "email_verified_at" timestamptz null;`);

    this.addSql(`alter table "invitations" add constraint "invitations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on delete cascade;`);
    this.addSql(`alter table "invitations" add constraint "invitations_role_check" check ("role" in ('owner', 'admin', 'member'));`);
    this.addSql(`alter table "invitations" add constraint "invitations_status_check" check ("status" in ('pending', 'accepted', 'declined', 'revoked'));`);

    this.addSql(`alter table "account_tokens" add constraint "account_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`);
    this.addSql(`alter table "account_tokens" add constraint "account_tokens_purpose_check" check ("purpose" in ('verify-email', 'reset-password'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "invitations" cascade;`);
    this.addSql(`drop table if exists "account_tokens" cascade;`);

    this.addSql(`alter table "users" drop column "email_verified_at";`);
  }

}
