/**
 * Generates a migration from the difference between the entities and a database that
 * has every existing migration applied. Starts a throwaway embedded Postgres unless
 * DATABASE_URL is set. Usage: npm run migration:create -- <name>
 */
import { startEmbeddedPostgres } from './lib/postgres';
import { createOrm, migrate } from '../entities/orm';

const name = process.argv[2];
if (!name) {
  console.error('usage: npm run migration:create -- <name>');
  process.exit(2);
}
const pg = process.env.DATABASE_URL ? null : await startEmbeddedPostgres({ persistent: false });
const orm = await createOrm({ databaseUrl: process.env.DATABASE_URL ?? pg!.url });
try {
  await migrate(orm);
  const result = await orm.migrator.create(undefined, false, false, name);
  console.log(result.diff.up.length ? `created ${result.fileName}` : 'no changes: entities match the migrations');
} finally {
  await orm.close();
  await pg?.stop();
}
