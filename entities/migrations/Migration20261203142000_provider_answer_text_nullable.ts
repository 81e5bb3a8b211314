import { Migration } from '@mikro-orm/migrations';

export class Migration20261203142000_provider_answer_text_nullable extends Migration {

  override name = 'Migration20261203142000_provider_answer_text_nullable';

  override up(): void | Promise<void> {
    this.addSql(`alter table "analysis_provider_answers" alter column "text" drop not null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`update "analysis_provider_answers" set "text" = '' where "text" is null;`);
    this.addSql(`alter table "analysis_provider_answers" alter column "text" set not null;`);
  }

}
