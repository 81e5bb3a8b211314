/**
 * Stripe webhook → signalWithStart, against a raw signalWithStart loop (the same
 * deliverBillingEvent call, same users, same Temporal server) in the same run; then
 * concurrent redelivery: every event delivered REDELIVERIES times at once, and the signals
 * that reached Temporal counted in the workflows' histories (the goal: one per event).
 * No worker polls the billing queue, so the figures are the hand-off only.
 *
 *   tsx bench/webhook.ts            # quick: 3 alternating rounds of 5 s, concurrency 8, 40 events × 4 redeliveries
 *   tsx bench/webhook.ts --full     # 5 rounds of 10 s, 200 events × 4
 *   tsx bench/webhook.ts --profile  # first: database queries per event (every SQL text of one
 *                                   # event) and a V8 CPU profile of an ours-only loop
 *                                   # (.data/bench/profiles/webhook-*.cpuprofile, summary printed)
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import Stripe from 'stripe';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestStack, TEST_BILLING } from '../test/support/stack';
import { apiClient, registerUser } from '../test/support/http';
import { stopInfra } from '../test/support/infra';
import { deliverBillingEvent } from '../workflows/billing/client';
import { subscriptionWorkflowId } from '../workflows/ids';
import { benchMode, reportBench } from './lib/report';
import { alternatingRounds, closedLoop, describeLoop } from './lib/closed-loop';
import { summarizeProfile } from './lib/profile';

const full = benchMode() === 'full';
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (full ? 10 : 5));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (full ? 5 : 3));
const USERS = 20;
const DUP_EVENTS = Number(process.env.BENCH_DUP_EVENTS ?? (full ? 200 : 40));
const REDELIVERIES = 4;
const PROFILE = process.argv.includes('--profile');

/**
 * Counts the SQL statements this process sends while `fn` runs (the API is in this process:
 * pg's Client.query is what MikroORM and raw queries both end in) and keeps their texts.
 */
async function countQueries(fn: () => Promise<void>): Promise<string[]> {
  // MikroORM's own copy of pg (node_modules/@mikro-orm/postgresql/node_modules/pg), not ours.
  const pg = createRequire(import.meta.resolve('@mikro-orm/postgresql'))('pg') as { Client: { prototype: { query: (...a: unknown[]) => unknown } } };
  const proto = pg.Client.prototype;
  const original = proto.query;
  const seen: string[] = [];
  proto.query = function (this: unknown, ...a: unknown[]) {
    const q = a[0] as string | { text?: string };
    seen.push((typeof q === 'string' ? q : (q?.text ?? String(q))).replace(/\s+/g, ' ').slice(0, 160));
    return original.apply(this, a);
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return seen;
}

/** A V8 CPU profile of this process (API + HTTP client) while `fn` runs; returns the file. */
async function cpuProfile(fn: () => Promise<void>): Promise<string> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  let profile: unknown;
  try {
    await fn();
  } finally {
    profile = (await session.post('Profiler.stop')).profile;
    session.disconnect();
  }
  const dir = resolve('.data/bench/profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `webhook-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

Runtime.install({ logger: new DefaultLogger('ERROR') });
// The redelivery burst opens more connections from 127.0.0.1 than the per-address cap
// (HTTP_MAX_CONNECTIONS_PER_IP) allows a real client: the cap is off here.
const stack = await startTestStack({ workers: false, billing: true, env: { HTTP_MAX_CONNECTIONS_PER_IP: '0' } });
try {
  const api = apiClient(stack.baseUrl);
  const conn = stack.orm.em.fork().getConnection();
  const makeUsers = async (n: number, tag: string) => {
    const users: { id: string; customer: string; plan: 'free' }[] = [];
    for (let i = 0; i < n; i++) {
      const reg = await registerUser(api);
      const customer = `cus_bench_${tag}_${i}_${randomUUID().slice(0, 6)}`;
      await conn.execute('update users set stripe_customer_id = ? where id = ?', [customer, reg.user.id]);
      users.push({ id: reg.user.id, customer, plan: 'free' });
    }
    return users;
  };
  const users = await makeUsers(USERS, 'load');
  const client = await stack.temporal.client();

  const eventFor = (customer: string) => ({
    id: `evt_${randomUUID()}`,
    object: 'event',
    type: 'customer.subscription.updated',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    api_version: Stripe.API_VERSION,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: { id: `sub_${customer}`, object: 'subscription', customer } },
  });
  const post = async (payload: string) => {
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_BILLING.STRIPE_WEBHOOK_SECRET });
    const res = await api.call('POST', '/api/webhooks/stripe', { raw: payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } });
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body as { received: true; duplicate?: boolean };
  };
  const ours = async (i: number) => {
    await post(JSON.stringify(eventFor(users[i % USERS].customer)));
  };
  const raw = async (i: number) => {
    const u = users[i % USERS];
    await deliverBillingEvent(client, u.id, { eventId: `evt_${randomUUID()}`, type: 'customer.subscription.updated', objectId: `sub_${u.customer}`, created: Math.floor(Date.now() / 1000) }, u.plan, stack.config.BILLING_GRACE_DAYS);
  };
  await closedLoop(CONCURRENCY, 2, ours);
  await closedLoop(CONCURRENCY, 2, raw);
  if (PROFILE) {
    const N = 50;
    const texts = await countQueries(async () => {
      for (let i = 0; i < N; i++) await ours(i);
    });
    const one = await countQueries(() => ours(0));
    console.log(`database statements per webhook event: ${(texts.length / N).toFixed(1)} (${texts.length} for ${N} events, one at a time); one event's:\n${one.map((t) => `    ${t}`).join('\n')}`);
    let figures = '';
    const file = await cpuProfile(async () => {
      figures = describeLoop(await closedLoop(CONCURRENCY, SECONDS, ours));
    });
    console.log(`\nCPU profile, ours only, concurrency ${CONCURRENCY} for ${SECONDS} s (${figures}): ${file}\n${summarizeProfile(file, 25)}\n`);
  }
  console.log(`Stripe webhook (signature, event row, signalWithStart) vs raw signalWithStart; concurrency ${CONCURRENCY}, ${ROUNDS} alternating rounds of ${SECONDS} s`);
  const { ours: oc, baseline: bc } = await alternatingRounds({ concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS }, ours, raw);
  const extra = { concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS, ours: oc, baseline: bc };
  reportBench({ name: 'Stripe webhook → signalWithStart, throughput', ours: oc.rps, baseline: bc.rps, unit: 'events/s', goal: 0.8, higherIsBetter: true, baselineLabel: 'raw signalWithStart loop, same server', extra });

  // Concurrent redelivery: fresh users (their workflows hold only these signals), every event
  // posted REDELIVERIES times at once.
  const dupUsers = await makeUsers(10, 'dup');
  const events = Array.from({ length: DUP_EVENTS }, (_, i) => JSON.stringify(eventFor(dupUsers[i % dupUsers.length].customer)));
  const answers = await Promise.all(events.flatMap((payload) => Array.from({ length: REDELIVERIES }, () => post(payload))));
  const duplicatesAnswered = answers.filter((a) => a.duplicate).length;
  let signals = 0;
  for (const u of dupUsers) {
    const history = await client.workflow.getHandle(subscriptionWorkflowId(u.id)).fetchHistory();
    signals += history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
  }
  const delivered = DUP_EVENTS * REDELIVERIES;
  const duplicateSignals = signals - DUP_EVENTS;
  console.log(`\nconcurrent redelivery: ${DUP_EVENTS} events × ${REDELIVERIES} at once = ${delivered} deliveries; ${duplicatesAnswered} answered duplicate; ${signals} signals reached Temporal (${DUP_EVENTS} expected)`);
  reportBench({
    name: 'Stripe webhook: duplicate signals under concurrent redelivery',
    ours: duplicateSignals,
    baseline: delivered - DUP_EVENTS,
    unit: 'signals',
    goal: { value: 0 },
    higherIsBetter: false,
    baselineLabel: 'redeliveries sent, i.e. what a raw signalWithStart per delivery would signal',
    extra: { events: DUP_EVENTS, redeliveries: REDELIVERIES, signals, duplicatesAnswered, suppressedPercent: (100 * (delivered - signals)) / (delivered - DUP_EVENTS) },
  });
} finally {
  await stack.close();
  await stopInfra();
}
