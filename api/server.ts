import type { Server } from 'node:http';
import { loadConfig, ConfigError, type Config } from '../config';
import { createLogger } from '../adapters/logger';
import { createOrm, type OrmSettings } from '../entities/orm';
import { TemporalGateway } from '../adapters/temporal/client';
import { temporalConnectionSettings } from '../adapters/temporal/connection';
import { createStripeClient } from '../adapters/stripe';
import { createStorage } from '../adapters/storage';
import { createApp } from './app';
import { applyServerLimits } from './http/slow-clients';
import type { AppDeps } from './deps';

/** The API's database settings: every query runs inside a request, so all of them are bounded. */
export function apiOrmSettings(config: Config, poolMax = config.DATABASE_POOL_MAX): OrmSettings {
  return {
    databaseUrl: config.DATABASE_URL,
    poolMax,
    debug: config.DATABASE_DEBUG,
    connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000,
  };
}

/** The API's Temporal client: every call it makes has a deadline. */
export function apiTemporalGateway(config: Config): TemporalGateway {
  return new TemporalGateway({ ...temporalConnectionSettings(config), namespace: config.TEMPORAL_NAMESPACE, callTimeoutMs: config.TEMPORAL_RPC_TIMEOUT_SECONDS * 1000 });
}

/** Builds the real dependencies from the configuration. */
export async function createDeps(config: Config): Promise<AppDeps> {
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'api' });
  const orm = await createOrm(apiOrmSettings(config));
  const temporal = apiTemporalGateway(config);
  return { config, orm, temporal, logger, storage: createStorage(config), stripe: createStripeClient(config) };
}

/** Stops accepting, lets in-flight requests finish (up to a limit), then closes DB and Temporal. */
export async function closeGracefully(server: Server, deps: AppDeps, drainMs = 10_000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.closeAllConnections();
      resolve();
    }, drainMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
  // After a database outage the pool can hold a client whose socket died mid-query; pg's
  // pool.end() then waits for it forever. Shutdown must finish, so each close gets the same
  // drain budget and the process moves on (the OS reclaims whatever is left).
  await closeWithin(deps.orm.close(), drainMs);
  await closeWithin(deps.temporal.close(), drainMs);
}

function closeWithin(closing: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    closing.then(
      () => (clearTimeout(timer), resolve()),
      () => (clearTimeout(timer), resolve()),
    );
  });
}

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const deps = await createDeps(config);
  const app = createApp(deps);
  const server = app.listen(config.PORT, config.HOST, () => {
    deps.logger.info({ url: `http://${config.HOST}:${config.PORT}/api`, docs: `http://${config.HOST}:${config.PORT}/api/docs` }, 'API listening');
  });
  applyServerLimits(server, config, (address) => deps.logger.warn({ address }, 'connection refused: too many open connections from this address'));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.logger.info({ signal }, 'API shutting down');
    closeGracefully(server, deps).then(
      () => process.exit(0),
      (err) => {
        deps.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error('API failed to start:', err);
    process.exit(1);
  });
}
