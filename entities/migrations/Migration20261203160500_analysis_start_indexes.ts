import { Migration } from '@mikro-orm/migrations';

/**
 * The analysis start limits count an account's and an organization's newest analyses of the
 * last hour and sum the organization's month (entities/analysis-start.ts): without these the
 * organization's were sequential scans of every analysis. (user_id, created_at) also serves
 * every lookup by user_id alone, so it replaces that index.
 */
export class Migration20261203160500_analysis_start_indexes extends Migration {

  override name = 'Migration20261203160500_analysis_start_indexes';

  override up(): void | Promise<void> {
    this.addSql(`create index "analyses_user_id_created_at_index" on "analyses" ("user_id", "created_at");`);
    this.addSql(`create index "analyses_organization_id_created_at_index" on "analyses" ("organization_id", "created_at");`);
    this.addSql(`drop index "analyses_user_id_index";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`create index "analyses_user_id_index" on "analyses" ("user_id");`);
    this.addSql(`drop index "analyses_organization_id_created_at_index";`);
    this.addSql(`drop index "analyses_user_id_created_at_index";`);
  }

}
