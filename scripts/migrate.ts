/** Applies pending migrations to DATABASE_URL (used by docker-compose and deploys). */
import { loadConfig } from '../config';
import { createOrm, migrate } from '../entities/orm';

const config = loadConfig();
const orm = await createOrm({ databaseUrl: config.DATABASE_URL });
try {
  const applied = await migrate(orm);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'migrations: up to date');
} finally {
  await orm.close();
}
