import { Migration } from '@mikro-orm/migrations';

export class Migration20261203102000_ai_usage extends Migration {

  override name = 'Migration20261203102000_ai_usage';

  override up(): void | Promise<void> {
    this.addSql(`alter table "analyses" add "cancel_reason" text null;`);
    this.addSql(`create table "ai_usage_totals" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "provider" varchar(255) not null, "model" varchar(255) not null, "calls" double precision not null default 0, "input_tokens" double precision not null default 0, "output_tokens" double precision not null default 0, "estimated_cost_usd" double precision not null default 0, "analyses" double precision not null default 0, "fallback_analyses" double precision not null default 0, primary key ("id"));`);
    this.addSql(`alter table "ai_usage_totals" add constraint "ai_usage_totals_provider_model_unique" unique ("provider", "model");`);
    // The totals start from what the analyses table already holds (completed AI answers).
    this.addSql(`insert into "ai_usage_totals" ("id", "created_at", "updated_at", "provider", "model", "calls", "input_tokens", "output_tokens", "estimated_cost_usd", "analyses", "fallback_analyses")
      select gen_random_uuid(), now(), now(), provider, model, count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(estimated_cost_usd), 0), count(*), count(*) filter (where fallback_used)
        from "analyses" where provider is not null and model is not null and cache_hit = false group by provider, model;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "ai_usage_totals" cascade;`);
    this.addSql(`alter table "analyses" drop column "cancel_reason";`);
  }

}
