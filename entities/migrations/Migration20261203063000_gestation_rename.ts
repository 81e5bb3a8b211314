import { Migration } from '@mikro-orm/migrations';

/**
 * Breeding/pregnancy is called gestation everywhere: rename the tables, columns, indexes
 * and constraints in place so every row is kept (no copy, no data change).
 */
export class Migration20261203063000_gestation_rename extends Migration {

  override name = 'Migration20261203063000_gestation_rename';

  override up(): void | Promise<void> {
    this.addSql(`alter table "pregnancies" rename to "gestations";`);
    this.addSql(`alter table "gestations" rename constraint "pregnancies_pkey" to "gestations_pkey";`);
    this.addSql(`alter table "gestations" rename constraint "pregnancies_organization_id_foreign" to "gestations_organization_id_foreign";`);
    this.addSql(`alter table "gestations" rename constraint "pregnancies_mare_id_foreign" to "gestations_mare_id_foreign";`);
    this.addSql(`alter table "gestations" rename constraint "pregnancies_method_check" to "gestations_method_check";`);
    this.addSql(`alter table "gestations" rename constraint "pregnancies_status_check" to "gestations_status_check";`);
    this.addSql(`alter index "pregnancies_mare_id_index" rename to "gestations_mare_id_index";`);
    this.addSql(`alter index "pregnancies_created_by_id_index" rename to "gestations_created_by_id_index";`);
    this.addSql(`alter index "pregnancies_organization_id_status_index" rename to "gestations_organization_id_status_index";`);
    this.addSql(`alter index "pregnancies_mare_active_unique" rename to "gestations_mare_active_unique";`);

    this.addSql(`alter table "pregnancy_checks" rename to "gestation_checks";`);
    this.addSql(`alter table "gestation_checks" rename column "pregnancy_id" to "gestation_id";`);
    this.addSql(`alter table "gestation_checks" rename constraint "pregnancy_checks_pkey" to "gestation_checks_pkey";`);
    this.addSql(`alter table "gestation_checks" rename constraint "pregnancy_checks_pregnancy_id_foreign" to "gestation_checks_gestation_id_foreign";`);
    this.addSql(`alter table "gestation_checks" rename constraint "pregnancy_checks_kind_check" to "gestation_checks_kind_check";`);
    this.addSql(`alter table "gestation_checks" rename constraint "pregnancy_checks_result_check" to "gestation_checks_result_check";`);
    this.addSql(`alter index "pregnancy_checks_pregnancy_id_index" rename to "gestation_checks_gestation_id_index";`);

    this.addSql(`alter table "reminder_logs" rename column "pregnancy_id" to "gestation_id";`);
    this.addSql(`alter table "reminder_logs" rename constraint "reminder_logs_pregnancy_id_milestone_id_unique" to "reminder_logs_gestation_id_milestone_id_unique";`);
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "reminder_logs" rename constraint "reminder_logs_gestation_id_milestone_id_unique" to "reminder_logs_pregnancy_id_milestone_id_unique";`);
    this.addSql(`alter table "reminder_logs" rename column "gestation_id" to "pregnancy_id";`);

    this.addSql(`alter index "gestation_checks_gestation_id_index" rename to "pregnancy_checks_pregnancy_id_index";`);
    this.addSql(`alter table "gestation_checks" rename constraint "gestation_checks_result_check" to "pregnancy_checks_result_check";`);
    this.addSql(`alter table "gestation_checks" rename constraint "gestation_checks_kind_check" to "pregnancy_checks_kind_check";`);
    this.addSql(`alter table "gestation_checks" rename constraint "gestation_checks_gestation_id_foreign" to "pregnancy_checks_pregnancy_id_foreign";`);
    this.addSql(`alter table "gestation_checks" rename constraint "gestation_checks_pkey" to "pregnancy_checks_pkey";`);
    this.addSql(`alter table "gestation_checks" rename column "gestation_id" to "pregnancy_id";`);
    this.addSql(`alter table "gestation_checks" rename to "pregnancy_checks";`);

    this.addSql(`alter index "gestations_mare_active_unique" rename to "pregnancies_mare_active_unique";`);
    this.addSql(`alter index "gestations_organization_id_status_index" rename to "pregnancies_organization_id_status_index";`);
    this.addSql(`alter index "gestations_created_by_id_index" rename to "pregnancies_created_by_id_index";`);
    this.addSql(`alter index "gestations_mare_id_index" rename to "pregnancies_mare_id_index";`);
    this.addSql(`alter table "gestations" rename constraint "gestations_status_check" to "pregnancies_status_check";`);
    this.addSql(`alter table "gestations" rename constraint "gestations_method_check" to "pregnancies_method_check";`);
    this.addSql(`alter table "gestations" rename constraint "gestations_mare_id_foreign" to "pregnancies_mare_id_foreign";`);
    this.addSql(`alter table "gestations" rename constraint "gestations_organization_id_foreign" to "pregnancies_organization_id_foreign";`);
    this.addSql(`alter table "gestations" rename constraint "gestations_pkey" to "pregnancies_pkey";`);
    this.addSql(`alter table "gestations" rename to "pregnancies";`);
  }

}
