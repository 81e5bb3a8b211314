import { fileURLToPath } from 'node:url';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from './index';

const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export interface OrmSettings {
  databaseUrl: string;
  poolMax?: number;
  debug?: boolean;
  /** How long to wait for a pooled connection (or a new one); unset: forever. */
  connectTimeoutMs?: number;
  /** Postgres statement_timeout on every connection; unset: none (migrations may run long). */
  statementTimeoutMs?: number;
}

export function ormOptions(settings: OrmSettings): Options {
  return {
    clientUrl: settings.databaseUrl,
    entities,
    extensions: [Migrator],
    debug: settings.debug ?? false,
    pool: { max: settings.poolMax ?? 10 },
    // Passed to pg's Pool: a dead or saturated database fails the request fast instead of holding it.
    driverOptions: {
      ...(settings.connectTimeoutMs ? { connectionTimeoutMillis: settings.connectTimeoutMs } : {}),
      ...(settings.statementTimeoutMs ? { statement_timeout: settings.statementTimeoutMs } : {}),
    },
    // Request-scoped forks only: touching the global EntityManager is a bug.
    allowGlobalContext: false,
    migrations: {
      path: migrationsPath,
      pathTs: migrationsPath,
      glob: '!(*.d).{js,ts}',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      emit: 'ts',
    },
  };
}

export async function createOrm(settings: OrmSettings): Promise<MikroORM> {
  return MikroORM.init(ormOptions(settings));
}

/** Applies pending migrations; the dev stack, the tests and deploys all run this. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.migrator.up();
  return applied.map((m) => m.name);
}

export type { MikroORM } from '@mikro-orm/postgresql';
export type { EntityManager } from '@mikro-orm/postgresql';
