import { Migration } from '@mikro-orm/migrations';

export class Migration20261203124414_ai_provider_answers extends Migration {

  override name = 'Migration20261203124414_ai_provider_answers';

  override up(): void | Promise<void> {
    this.addSql(`create table "analysis_provider_answers" ("id" uuid not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "analysis_id" uuid not null, "provider" varchar(255) not null, "model" varchar(255) not null, "text" text not null, "input_tokens" int not null, "output_tokens" int not null, "estimated_cost_usd" double precision null, "latency_ms" int not null, "sandbox" boolean not null, primary key ("id"));`);
    this.addSql(`alter table "analysis_provider_answers" add constraint "analysis_provider_answers_analysis_id_provider_unique" unique ("analysis_id", "provider");`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "analysis_provider_answers" cascade;`);
  }

}
