import type { Server } from 'node:http';
import { loadConfig, type Config } from '../../config';
import { createLogger } from '../../adapters/logger';
import { createOrm, type MikroORM } from '../../entities/orm';
import { TemporalGateway } from '../../adapters/temporal/client';
import { ResendMailer } from '../../adapters/email/mailer';
import { createApp } from '../../api/app';
import type { AppDeps } from '../../api/deps';
import { closeGracefully } from '../../api/server';
import { startWorkers, type RunningWorkers } from '../../workers/run';
import { testDatabase, testResend, testTemporal } from './infra';
import { workflowBundle } from './temporal-env';
import type { ResendStandIn } from '../../scripts/standins/resend';

/**
 * The whole backend for integration tests: the real app on an ephemeral port, real
 * Postgres, a real Temporal dev server, real workers, and the Resend SDK talking to a
 * local stand-in. One per test file (before/after).
 */
export interface TestStack {
  baseUrl: string;
  config: Config;
  orm: MikroORM;
  deps: AppDeps;
  resend: ResendStandIn;
  temporal: TemporalGateway;
  workers: RunningWorkers | null;
  close(): Promise<void>;
}

export async function startTestStack(opts: { env?: Record<string, string>; workers?: boolean } = {}): Promise<TestStack> {
  const [db, temporalServer, resend] = await Promise.all([testDatabase(), testTemporal(), testResend()]);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: temporalServer.address,
    RESEND_API_KEY: 're_test_key',
    RESEND_BASE_URL: resend.url,
    RATE_LIMIT_MAX: '100000',
    AUTH_RATE_LIMIT_MAX: '100000',
    PASSWORD_HASH_MEMORY_KIB: '1024',
    ...opts.env,
  });
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'test' });
  const orm = await createOrm({ databaseUrl: config.DATABASE_URL, poolMax: 20 });
  const temporal = new TemporalGateway({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  const deps: AppDeps = { config, orm, temporal, logger };
  const app = createApp(deps);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const addr = server.address();
  const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  let workers: RunningWorkers | null = null;
  if (opts.workers !== false) {
    const workerOrm = await createOrm({ databaseUrl: config.DATABASE_URL, poolMax: 10 });
    const mailer = new ResendMailer(config.RESEND_API_KEY!, config.EMAIL_FROM, config.RESEND_BASE_URL);
    const running = await startWorkers({
      deps: { config, orm: workerOrm, logger, mailer },
      address: config.TEMPORAL_ADDRESS,
      namespace: config.TEMPORAL_NAMESPACE,
      bundle: await workflowBundle(),
    });
    workers = {
      done: running.done,
      shutdown: async () => {
        await running.shutdown();
        await workerOrm.close();
      },
    };
  }
  return {
    baseUrl,
    config,
    orm,
    deps,
    resend,
    temporal,
    workers,
    async close() {
      await workers?.shutdown();
      await closeGracefully(server, deps, 2000);
    },
  };
}
