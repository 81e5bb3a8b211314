import { fileURLToPath } from 'node:url';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { entities } from './index';

const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));

export interface OrmSettings {
  databaseUrl: string;
  poolMax?: number;
  debug?: boolean;
}

export function ormOptions(settings: OrmSettings): Options {
  return {
    clientUrl: settings.databaseUrl,
    entities,
    extensions: [Migrator],
    debug: settings.debug ?? false,
    pool: { max: settings.poolMax ?? 10 },
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
