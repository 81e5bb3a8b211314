import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../config';
import { createLogger } from '../../adapters/logger';
import { createOrm, type MikroORM } from '../../entities/orm';
import { TemporalGateway } from '../../adapters/temporal/client';
import { ResendMailer } from '../../adapters/email/mailer';
import { createApp } from '../../api/app';
import type { AppDeps } from '../../api/deps';
import { apiOrmSettings, apiTemporalGateway, closeGracefully } from '../../api/server';
import { applyServerLimits } from '../../api/http/slow-clients';
import { startWorkers, type RunningWorkers } from '../../workers/run';
import { testAnthropic, testDatabase, testOpenAi, testResend, testStripeMock, testTemporal } from './infra';
import { createStorage } from '../../adapters/storage';
import type { StoragePort } from '../../adapters/storage/port';
import { createAiClients } from '../../adapters/ai';
import type { AiStandIn } from '../../scripts/standins/ai-script';
import type { TaskQueue } from '../../workflows/queues';
import { workflowBundle } from './temporal-env';
import type { ResendStandIn } from '../../scripts/standins/resend';
import type { StripeMock } from '../../scripts/standins/stripe-mock';
import { createStripeClient } from '../../adapters/stripe';

/** Billing settings of a stack started with `billing: true` (Stripe = stripe-mock). */
export const TEST_BILLING = {
  STRIPE_SECRET_KEY: 'sk_test_horsetempo',
  STRIPE_WEBHOOK_SECRET: 'whsec_test_horse_tempo',
  STRIPE_PRICE_PREMIUM_MONTHLY: 'price_test_premium_monthly',
  STRIPE_PRICE_PREMIUM_YEARLY: 'price_test_premium_yearly',
  STRIPE_PRICE_PRO_MONTHLY: 'price_test_pro_monthly',
  STRIPE_PRICE_PRO_YEARLY: 'price_test_pro_yearly',
} as const;

/**
 * The whole backend for integration tests: the real app on an ephemeral port, real
 * Postgres, a real Temporal dev server, real workers, and the Resend SDK talking to a
 * local stand-in. One per test file (before/after).
 */
export interface TestStack {
  baseUrl: string;
  /** The API's HTTP server (timeouts as in production: api/http/slow-clients.ts applyServerLimits). */
  server: Server;
  config: Config;
  orm: MikroORM;
  deps: AppDeps;
  resend: ResendStandIn;
  /** Set when the stack was started with `billing: true`. */
  stripeMock: StripeMock | null;
  /** AI stand-ins the SDKs talk to (scriptable per test). */
  anthropic: AiStandIn;
  openai: AiStandIn;
  storage: StoragePort;
  temporal: TemporalGateway;
  workers: RunningWorkers | null;
  close(): Promise<void>;
}

export async function startTestStack(opts: { env?: Record<string, string>; workers?: boolean; /** Stripe through stripe-mock with the TEST_BILLING settings (opts.env may override). */ billing?: boolean; /** Queues the in-process workers poll (default: all). */ queues?: TaskQueue[] } = {}): Promise<TestStack> {
  const [db, temporalServer, resend, anthropic, openai] = await Promise.all([testDatabase(), testTemporal(), testResend(), testAnthropic(), testOpenAi()]);
  const stripeMock = opts.billing ? await testStripeMock() : null;
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
    STORAGE_DIR: mkdtempSync(join(tmpdir(), 'horse-tempo-test-storage-')),
    ANTHROPIC_API_KEY: 'sk-ant-test-standin',
    ANTHROPIC_BASE_URL: anthropic.baseURL,
    OPENAI_API_KEY: 'sk-test-standin',
    OPENAI_BASE_URL: openai.baseURL,
    AI_SANDBOX: 'true',
    ...(stripeMock ? { ...TEST_BILLING, STRIPE_API_BASE: stripeMock.url } : {}),
    ...opts.env,
  });
  const logger = createLogger({ level: config.LOG_LEVEL, name: 'test' });
  const orm = await createOrm(apiOrmSettings(config, 20));
  const temporal = apiTemporalGateway(config);
  const storage = createStorage(config);
  const deps: AppDeps = { config, orm, temporal, logger, storage, stripe: createStripeClient(config) };
  const app = createApp(deps);
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    applyServerLimits(s, config);
  });
  const addr = server.address();
  const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  let workers: RunningWorkers | null = null;
  if (opts.workers !== false) {
    const workerOrm = await createOrm({ databaseUrl: config.DATABASE_URL, poolMax: 10 });
    const mailer = new ResendMailer(config.RESEND_API_KEY!, config.EMAIL_FROM, config.RESEND_BASE_URL);
    const running = await startWorkers({
      deps: { config, orm: workerOrm, logger, mailer, storage, ai: createAiClients(config), stripe: createStripeClient(config) },
      address: config.TEMPORAL_ADDRESS,
      namespace: config.TEMPORAL_NAMESPACE,
      bundle: await workflowBundle(),
      queues: opts.queues,
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
    server,
    config,
    orm,
    deps,
    resend,
    stripeMock,
    anthropic,
    openai,
    storage,
    temporal,
    workers,
    async close() {
      await workers?.shutdown();
      await closeGracefully(server, deps, 2000);
    },
  };
}
