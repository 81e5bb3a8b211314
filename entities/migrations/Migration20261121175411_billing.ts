import { Migration } from '@mikro-orm/migrations';

export class Migration20261121175411_billing extends Migration {

  override name = 'Migration20261121175411_billing';

  override up(): void | Promise<void> {

    this.addSql(`create table "stripe_events" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "event_id" varchar(255) not null, "type" varchar(255) not null, "object_id" varchar(255) null, "user_id" uuid null, "received_at" timestamptz not null, "signalled_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "stripe_events" add constraint "stripe_events_event_id_unique" unique ("event_id");`);
    this.addSql(`create index "stripe_events_user_id_index" on "stripe_events" ("user_id");`);

    this.addSql(`create table "subscriptions" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "user_id" uuid not null, "stripe_customer_id" varchar(255) null, "stripe_subscription_id" varchar(255) null, "plan" text not null default 'free', "interval" text null, "status" text not null default 'none', "current_period_start" timestamptz null, "current_period_end" timestamptz null, "cancel_at_period_end" boolean not null default false, "pending_plan" text null, "past_due_since" timestamptz null, "trial_end" timestamptz null, "checkout_plan" text null, "checkout_interval" text null, "checkout_session_id" varchar(255) null, "synced_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_user_id_unique" unique ("user_id");`);
    this.addSql(`create index "subscriptions_stripe_customer_id_index" on "subscriptions" ("stripe_customer_id");`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_stripe_subscription_id_unique" unique ("stripe_subscription_id");`);

    this.addSql(`alter table "subscriptions" add constraint "subscriptions_plan_check" check ("plan" in ('free', 'premium', 'pro'));`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_interval_check" check ("interval" in ('month', 'year'));`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_status_check" check ("status" in ('none', 'incomplete', 'trialing', 'active', 'past_due', 'canceled', 'expired'));`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_pending_plan_check" check ("pending_plan" in ('free', 'premium', 'pro'));`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_checkout_plan_check" check ("checkout_plan" in ('free', 'premium', 'pro'));`);
    this.addSql(`alter table "subscriptions" add constraint "subscriptions_checkout_interval_check" check ("checkout_interval" in ('month', 'year'));`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "stripe_events" cascade;`);
    this.addSql(`drop table if exists "subscriptions" cascade;`);
  }

}
