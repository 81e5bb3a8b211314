/**
 * Stripe webhook → signalWithStart, against a raw signalWithStart loop (the same
 * deliverBillingEvent call, same users, same Temporal server) in the same run; then
 * concurrent redelivery: every event delivered REDELIVERIES times at once, and the signals
 * that reached Temporal counted in the workflows' histories (the goal: one per event).
 * No worker polls the billing queue, so the figures are the hand-off only. Our API runs as a
 * child process (bench/lib/api-child.ts): the HTTP client's CPU stays in this process, as
 * Stripe's stays on Stripe's machines.
 *
 *   tsx bench/webhook.ts            # quick: 3 alternating rounds of 5 s, concurrency 8, 40 events × 4 redeliveries
 *   tsx bench/webhook.ts --full     # 5 rounds of 10 s, 200 events × 4
 *   tsx bench/webhook.ts --profile  # + database statements per event (every SQL text of one
 *                                   # event) and a V8 CPU profile of the API process
 *                                   # (.data/bench/profiles/<time>/*.cpuprofile, summary printed)
 *
 * Not part of the test suite; prints figures, asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Stripe from 'stripe';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTestStack, TEST_BILLING } from '../test/support/stack';
import { apiClient, registerUser } from '../test/support/http';
import { stopInfra } from '../test/support/infra';
import { deliverBillingEvent } from '../workflows/billing/client';
import { subscriptionWorkflowId } from '../workflows/ids';
import { benchMode, reportBench } from './lib/report';
import { alternatingRounds, closedLoop } from './lib/closed-loop';
import { summarizeProfile } from './lib/profile';
import { startApiChild } from './lib/api-child';
import { cpuSecondsOf } from './lib/load';
import { countQueries } from './lib/count-queries';

const full = benchMode() === 'full';
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECONDS = Number(process.env.BENCH_SECONDS ?? (full ? 10 : 5));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (full ? 5 : 3));
const USERS = 20;
const DUP_EVENTS = Number(process.env.BENCH_DUP_EVENTS ?? (full ? 200 : 40));
const REDELIVERIES = 4;
const PROFILE = process.argv.includes('--profile');

Runtime.install({ logger: new DefaultLogger('ERROR') });
// The redelivery burst opens more connections from 127.0.0.1 than the per-address cap
// (HTTP_MAX_CONNECTIONS_PER_IP) allows a real client: the cap is off here.
const benchEnv = { HTTP_MAX_CONNECTIONS_PER_IP: '0' };
const stack = await startTestStack({ workers: false, billing: true, env: benchEnv });
const profileDir = resolve('.data/bench/profiles', new Date().toISOString().replace(/[:.]/g, '-'));
const child = await startApiChild(stack, 'webhook-api', benchEnv, PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
try {
  // Users are made through the in-process API (same database); the webhook load goes to the child.
  const api = apiClient(stack.baseUrl);
  const hook = apiClient(child.url);
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
  const post = async (payload: string, via = hook) => {
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_BILLING.STRIPE_WEBHOOK_SECRET });
    const res = await via.call('POST', '/api/billing/webhook', { raw: payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } });
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${JSON.stringify(res.body)}`);
    return res.body as { received: true; duplicate?: boolean };
  };
  const ours = async (i: number, via = hook) => {
    await post(JSON.stringify(eventFor(users[i % USERS].customer)), via);
  };
  const raw = async (i: number) => {
    const u = users[i % USERS];
    await deliverBillingEvent(client, u.id, { eventId: `evt_${randomUUID()}`, type: 'customer.subscription.updated', objectId: `sub_${u.customer}`, created: Math.floor(Date.now() / 1000) }, u.plan, stack.config.BILLING_GRACE_DAYS);
  };
  await closedLoop(CONCURRENCY, 2, ours);
  await closedLoop(CONCURRENCY, 2, raw);
  if (PROFILE) {
    // Counted through the in-process API (same code; pg's Client.query is reachable here).
    const N = 50;
    const texts = await countQueries(async () => {
      for (let i = 0; i < N; i++) await ours(i, api);
    });
    const one = await countQueries(() => ours(0, api));
    console.log(`database round trips (pg queries) per webhook event: ${(texts.length / N).toFixed(1)} (${texts.length} for ${N} events, one at a time); one event's:\n${one.map((t) => `    ${t}`).join('\n')}\n`);
  }
  // Like with like: the raw loop calls the same deliverBillingEvent on the same kind of Temporal
  // connection as the API (apiTemporalGateway: connection class, deadline and retry settings),
  // at the same concurrency, for the same users; only the API's part differs (HTTP, signature,
  // the event row's two round trips to Postgres).
  console.log(`Stripe webhook (HTTP, signature, event row, signalWithStart) vs raw signalWithStart; both through apiTemporalGateway (${client.connection.constructor.name}); concurrency ${CONCURRENCY} each, ${ROUNDS} alternating rounds of ${SECONDS} s`);
  const cpuBefore = cpuSecondsOf(child.pid);
  const { ours: oc, baseline: bc } = await alternatingRounds({ concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS }, (i) => ours(i), raw);
  // The API process is idle during the raw rounds, so its CPU is the webhook rounds'.
  const apiCpuMsPerEvent = ((cpuSecondsOf(child.pid) - cpuBefore) * 1000) / oc.calls;
  console.log(`API process CPU per webhook event: ${apiCpuMsPerEvent.toFixed(2)} ms`);
  const extra = { concurrency: CONCURRENCY, seconds: SECONDS, rounds: ROUNDS, ours: oc, baseline: bc, apiCpuMsPerEvent };
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
  await child.stop();
  await stack.close();
  await stopInfra();
}
if (PROFILE) {
  for (const f of readdirSync(profileDir).filter((n) => n.endsWith('.cpuprofile'))) {
    // The first part of the timeline is module loading and the warm-up: skipped (PROFILE_SKIP).
    console.log(`\nCPU profile of the API process under the webhook load: ${join(profileDir, f)}`);
    console.log(summarizeProfile(join(profileDir, f), 25, Number(process.env.PROFILE_SKIP ?? 0.3)));
  }
}
