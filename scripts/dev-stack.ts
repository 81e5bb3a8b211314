/**
 * The whole stack on embedded defaults, no configuration needed:
 *   PostgreSQL  embedded (data in .data/postgres) unless DATABASE_URL is set
 *   Temporal    CLI dev server on :7233, Web UI on :8233, state in .data/temporal.db
 *               (workflows survive a restart) unless TEMPORAL_ADDRESS is set
 *   stand-ins   local servers for services that need keys (see "stand-ins" below)
 *   migrations  applied before anything else starts
 *   worker      every task queue (workers/main.ts)
 *   API         http://127.0.0.1:4000/api
 * Ctrl-C stops everything in reverse order; a second start reuses the data.
 * Ports and the data folder can be moved with DEV_POSTGRES_PORT, DEV_TEMPORAL_PORT,
 * DEV_TEMPORAL_UI_PORT, PORT and HORSE_TEMPO_DATA_DIR.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { startEmbeddedPostgres } from './lib/postgres';
import { startTemporalDevServer } from './lib/temporal';
import { startService, type Service } from './lib/process';
import { isPortOpen, waitForPort } from './lib/ports';
import { createOrm, migrate } from '../entities/orm';
import { loadConfig, ConfigError } from '../config';
import { EnvironmentProblem, describeStartFailure } from './lib/environment-problem';
import { startAnthropicStandIn } from './standins/anthropic';
import { startOpenAiStandIn } from './standins/openai';
import type { AiStandIn } from './standins/ai-script';
import { startStripeMock, stripeMockBinary } from './standins/stripe-mock';

if (existsSync('.env')) process.loadEnvFile('.env');

const say = (msg: string) => console.log(`[dev] ${msg}`);
const dataDir = resolve(process.env.HORSE_TEMPO_DATA_DIR ?? '.data');
const logDir = join(dataDir, 'logs');
mkdirSync(logDir, { recursive: true });

type Stopper = { name: string; stop: () => Promise<void> };
const stoppers: Stopper[] = [];
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    say('stopping…');
    for (const s of [...stoppers].reverse()) {
      try {
        await s.stop();
        say(`stopped ${s.name}`);
      } catch (err) {
        console.error(`[dev] stopping ${s.name} failed:`, err);
      }
    }
  }
  process.exit(code);
}
/**
 * Ctrl-C stops the stack in order (API and worker first, Temporal, then Postgres). A
 * library that installs its own SIGINT exit hook would cut that short, so after each
 * start we take the signals back.
 */
function ownSignals() {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void shutdown(0));
  }
}
ownSignals();

async function requireFreePort(port: number, what: string, variable: string) {
  if (await isPortOpen(port)) {
    throw new EnvironmentProblem(`${what} port ${port} is already in use (another dev stack still running?). Stop it or set ${variable}.`);
  }
}

async function main() {
  // Validate the configuration up front: a bad variable stops here with its name.
  loadConfig();
  const childEnv: Record<string, string> = {};

  // --- PostgreSQL ---
  if (process.env.DATABASE_URL) {
    childEnv.DATABASE_URL = process.env.DATABASE_URL;
    say(`PostgreSQL: using DATABASE_URL`);
  } else {
    const port = Number(process.env.DEV_POSTGRES_PORT ?? 54320);
    await requireFreePort(port, 'PostgreSQL', 'DEV_POSTGRES_PORT');
    const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'postgres'), port, persistent: true, database: 'horse_tempo' });
    stoppers.push({ name: 'PostgreSQL', stop: () => pg.stop() });
    ownSignals();
    childEnv.DATABASE_URL = pg.url;
    say(`PostgreSQL: embedded on 127.0.0.1:${port} (data in ${pg.dataDir})`);
  }

  // --- Temporal ---
  let temporalUi = process.env.TEMPORAL_UI_URL ?? null;
  if (process.env.TEMPORAL_ADDRESS) {
    childEnv.TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS;
    say(`Temporal: using TEMPORAL_ADDRESS=${process.env.TEMPORAL_ADDRESS}`);
  } else {
    const port = Number(process.env.DEV_TEMPORAL_PORT ?? 7233);
    const uiPort = Number(process.env.DEV_TEMPORAL_UI_PORT ?? 8233);
    await requireFreePort(port, 'Temporal', 'DEV_TEMPORAL_PORT');
    await requireFreePort(uiPort, 'Temporal UI', 'DEV_TEMPORAL_UI_PORT');
    say('Temporal: starting the dev server (first start takes a few seconds)…');
    const temporal = await startTemporalDevServer({
      port,
      uiPort,
      dbFile: join(dataDir, 'temporal.db'),
      namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
      logFile: join(logDir, 'temporal.log'),
    });
    stoppers.push({ name: 'Temporal', stop: () => temporal.stop() });
    childEnv.TEMPORAL_ADDRESS = temporal.address;
    temporalUi = temporal.uiUrl;
    childEnv.TEMPORAL_UI_URL = temporal.uiUrl!;
    say(`Temporal: ${temporal.address}, Web UI ${temporal.uiUrl} (state in ${join(dataDir, 'temporal.db')})`);
  }

  // --- stand-ins ---
  // Local servers that speak the HTTP APIs of services which need keys, so the whole
  // product runs on a fresh machine. A feature adds its stand-in here and puts the
  // variables its adapters read into childEnv. Email needs none: without RESEND_API_KEY
  // emails go to the outbox table and the worker log.

  // AI (video analysis): without keys, local stand-ins that speak the Anthropic Messages and
  // OpenAI Chat Completions APIs answer with valid results marked as sandbox.
  const aiStandIns: [string, 'ANTHROPIC' | 'OPENAI', () => Promise<AiStandIn>][] = [
    ['Anthropic', 'ANTHROPIC', () => startAnthropicStandIn(Number(process.env.DEV_ANTHROPIC_PORT ?? 0))],
    ['OpenAI', 'OPENAI', () => startOpenAiStandIn(Number(process.env.DEV_OPENAI_PORT ?? 0))],
  ];
  let standInCount = 0;
  for (const [label, prefix, start] of aiStandIns) {
    if (process.env[`${prefix}_API_KEY`]) continue;
    const standIn = await start();
    stoppers.push({ name: `${label} stand-in`, stop: () => standIn.close() });
    childEnv[`${prefix}_API_KEY`] = `sandbox-${prefix.toLowerCase()}-key`;
    childEnv[`${prefix}_BASE_URL`] = standIn.baseURL;
    standInCount++;
    say(`${label}: no ${prefix}_API_KEY, sandbox stand-in on ${standIn.url} (script it: POST ${standIn.url}/__standin/script {"behaviours":[529,"hang"]})`);
  }
  if (standInCount === aiStandIns.length) childEnv.AI_SANDBOX = 'true';

  // Billing: without STRIPE_SECRET_KEY, stripe-mock (when installed) with dev settings; the
  // webhook secret is known so you can sign test events (stripe.webhooks.generateTestHeaderString).
  // Without either, billing answers 503 naming the missing setting.
  if (!process.env.STRIPE_SECRET_KEY && stripeMockBinary()) {
    const stripeMock = await startStripeMock({ logFile: join(logDir, 'stripe-mock.log'), port: Number(process.env.DEV_STRIPE_MOCK_PORT ?? 0) });
    stoppers.push({ name: 'stripe-mock', stop: () => stripeMock.stop() });
    // stripe-mock answers every list with a static active subscription, which would make
    // checkout refuse ("already subscribed") for everyone; a sandbox user starts with none.
    stripeMock.setObject('/v1/subscriptions', { object: 'list', data: [], has_more: false, url: '/v1/subscriptions' });
    childEnv.STRIPE_SECRET_KEY = 'sk_test_dev';
    childEnv.STRIPE_API_BASE = stripeMock.url;
    childEnv.STRIPE_WEBHOOK_SECRET = process.env.STRIPE_WEBHOOK_SECRET || 'whsec_dev_horse_tempo';
    for (const [name, value] of Object.entries({
      STRIPE_PRICE_PREMIUM_MONTHLY: 'price_dev_premium_monthly',
      STRIPE_PRICE_PREMIUM_YEARLY: 'price_dev_premium_yearly',
      STRIPE_PRICE_PRO_MONTHLY: 'price_dev_pro_monthly',
      STRIPE_PRICE_PRO_YEARLY: 'price_dev_pro_yearly',
    })) {
      childEnv[name] = process.env[name] || value;
    }
    say(`Stripe: no STRIPE_SECRET_KEY, stripe-mock on ${stripeMock.url} (webhook secret ${childEnv.STRIPE_WEBHOOK_SECRET})`);
  } else if (!process.env.STRIPE_SECRET_KEY) {
    say('Stripe: no STRIPE_SECRET_KEY and no stripe-mock (HORSE_TEMPO_STRIPE_MOCK): billing answers 503');
  }

  // --- migrations ---
  const orm = await createOrm({ databaseUrl: childEnv.DATABASE_URL });
  try {
    const applied = await migrate(orm);
    say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'migrations: up to date');
  } finally {
    await orm.close();
  }

  // --- worker and API ---
  const env = { ...childEnv, STORAGE_DIR: process.env.STORAGE_DIR ?? join(dataDir, 'uploads') };
  const node = process.execPath;
  const services: Service[] = [];
  const worker = startService('worker', node, ['--import', 'tsx', 'workers/main.ts'], { env, inherit: true });
  services.push(worker);
  stoppers.push({ name: 'worker', stop: () => worker.stop(15_000) });
  const api = startService('api', node, ['--import', 'tsx', 'api/server.ts'], { env, inherit: true });
  services.push(api);
  stoppers.push({ name: 'API', stop: () => api.stop(15_000) });
  for (const s of services) {
    void s.exited.then((code) => {
      if (!shuttingDown) {
        console.error(`[dev] ${s.name} exited unexpectedly (code ${code}); stopping the stack`);
        void shutdown(1);
      }
    });
  }

  ownSignals();
  const port = Number(process.env.PORT ?? 4000);
  await waitForPort(port, 'API', 120_000);
  const base = `http://127.0.0.1:${port}`;
  say('ready:');
  say(`  API          ${base}/api`);
  say(`  API docs     ${base}/api/docs   (OpenAPI: ${base}/api/openapi.json)`);
  say(`  health       ${base}/api/health`);
  say(`  metrics      ${base}/metrics`);
  if (temporalUi) say(`  Temporal UI  ${temporalUi}`);
  say(`  data         ${dataDir}   (logs in ${logDir})`);
  say('Ctrl-C stops everything.');
}

main().catch(async (err) => {
  // A configuration or machine problem is one sentence; anything else is our bug: full stack.
  console.error(err instanceof ConfigError ? err.message : `[dev] failed to start: ${describeStartFailure(err)}`);
  await shutdown(1);
});
