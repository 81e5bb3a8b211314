import { Migration } from '@mikro-orm/migrations';

export class Migration20261203063653_credit_periods extends Migration {

  override name = 'Migration20261203063653_credit_periods';

  override up(): void | Promise<void> {
    this.addSql(`alter table "credit_accounts" add "period" int not null default 0;`);

    this.addSql(`alter table "credit_transactions" add "period" int null;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "credit_accounts" drop column "period";`);

    this.addSql(`alter table "credit_transactions" drop column "period";`);
  }

}
