/**
 * Does POST /api/auth/password-reset take as long for an unknown address as for a known one?
 * The real API (api/server.ts as a child process, so the bench's HTTP client and the accounts
 * worker never share its event loop) on the test stack (embedded Postgres, Temporal dev
 * server, accounts worker in this process), with the production argon2 cost
 * (PASSWORD_HASH_MEMORY_KIB=19456). The known address gets a fresh token and workflow start
 * each time (ACCOUNT_EMAILS_PER_HOUR raised so pacing does not skip the work).
 *
 * How it measures (interleaved A/B pairs, one request at a time):
 * - warm-up: WARM_PAIRS pairs, not counted (the dummy hash is made on first use, V8 optimizes
 *   the route, pg and Temporal connections open);
 * - PAIRS pairs of one known and one unknown request; which goes first is balanced (half each)
 *   and shuffled, so whatever the previous request left behind falls on both paths alike;
 * - before each request the server is settled: the known address's link is made after its
 *   answer, so the bench waits until that link's email reached the Resend stand-in (the token
 *   insert, the workflow start and the worker's activity are done), then SETTLE_MS on either
 *   path. Each figure is then what one probe sees on an idle server;
 * - per pair the ratio unknown / known; the row is the MEDIAN of those ratios, turned into
 *   faster / slower (either path answering clearly faster tells who has an account). A pair's
 *   two requests are a few hundred ms apart, so a neighbour's burst on the shared machine
 *   mostly moves both, and the median ignores the pairs it split.
 * - then, for information, the other channel: an unknown address asked right after a known
 *   one, without settling (it shares the CPU with the known one's deferred work).
 *
 *   npm run bench -- --only=password-reset      # quick: 150 pairs
 *   npm run bench -- --only=password-reset --full   # 400 pairs
 *   flock /tmp/ht-fullsuite.lock tsx bench/password-reset-timing.ts [pairs]
 *
 * Row in `npm run bench`: ours = the median per-pair ratio faster / slower, baseline = 1 (the
 * same time on both paths); goal ≥ 0.9. Prints medians per path too; asserts nothing.
 */
import { startTestStack } from '../test/support/stack';
import { apiClient, registerUser, uniqueEmail } from '../test/support/http';
import { TaskQueue } from '../workflows/queues';
import { stopInfra } from '../test/support/infra';
import { waitFor } from '../test/support/wait';
import { benchMode, reportBench } from './lib/report';
import { startApiChild } from './lib/api-child';
import type { ChildServer } from './lib/load';

const PAIRS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? (benchMode() === 'full' ? 400 : 150));
const WARM_PAIRS = 10;
const BACK_TO_BACK = 40;
const SETTLE_MS = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: median(s), p90: s[Math.floor(s.length * 0.9)], mean: s.reduce((a, b) => a + b, 0) / s.length };
};

const env = { PASSWORD_HASH_MEMORY_KIB: '19456', ACCOUNT_EMAILS_PER_HOUR: '100000' };
const stack = await startTestStack({ queues: [TaskQueue.accounts], env });
let child: ChildServer | undefined;
try {
  child = await startApiChild(stack, 'password-reset-api', env);
  const api = apiClient(child.url);
  const known = await registerUser(api);
  const resetEmailsToKnown = () => stack.resend.emails.filter((e) => e.to.includes(known.email) && /\/reset-password#token=/.test(e.text ?? '')).length;
  let knownAsked = 0;

  const time = async (email: string) => {
    const t0 = performance.now();
    const res = await api.post('/api/auth/password-reset', { email });
    const ms = performance.now() - t0;
    if (res.status !== 202) throw new Error(`unexpected ${res.status} ${JSON.stringify(res.body)}`);
    if (email === known.email) knownAsked++;
    return ms;
  };
  /** Every known request's deferred work is done (its email arrived), then SETTLE_MS. */
  const settle = async () => {
    await waitFor(`reset email ${knownAsked} to the known address`, async () => resetEmailsToKnown() >= knownAsked, { timeoutMs: 30_000, intervalMs: 5 });
    await sleep(SETTLE_MS);
  };
  const pair = async (knownFirst: boolean) => {
    let k = 0;
    let u = 0;
    for (const which of knownFirst ? ['known', 'unknown'] : ['unknown', 'known']) {
      await settle();
      if (which === 'known') k = await time(known.email);
      else u = await time(uniqueEmail('nobody'));
    }
    return { k, u };
  };
  // Half the pairs known-first, half unknown-first, shuffled.
  const orders = Array.from({ length: PAIRS }, (_, i) => i % 2 === 0);
  for (let i = orders.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [orders[i], orders[j]] = [orders[j], orders[i]];
  }

  for (let i = 0; i < WARM_PAIRS; i++) await pair(i % 2 === 0);
  const figures = { known: [] as number[], unknown: [] as number[], ratios: [] as number[], unknownAfterKnown: [] as number[] };
  for (const knownFirst of orders) {
    const { k, u } = await pair(knownFirst);
    figures.known.push(k);
    figures.unknown.push(u);
    figures.ratios.push(u / k);
  }
  for (let i = 0; i < BACK_TO_BACK; i++) {
    await settle();
    await time(known.email);
    figures.unknownAfterKnown.push(await time(uniqueEmail('nobody')));
  }
  await settle();

  const k = stats(figures.known);
  const u = stats(figures.unknown);
  const r = stats(figures.ratios);
  const fasterOverSlower = Math.min(r.median, 1 / r.median);
  const fmt = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`password-reset request, ${PAIRS} interleaved pairs (order balanced and shuffled) after ${WARM_PAIRS} warm-up pairs, settled server, argon2 19456 KiB`);
  console.log(`known   address: median ${fmt(k.median)}  p90 ${fmt(k.p90)}  mean ${fmt(k.mean)}`);
  console.log(`unknown address: median ${fmt(u.median)}  p90 ${fmt(u.p90)}  mean ${fmt(u.mean)}`);
  console.log(`per-pair unknown / known: median ${r.median.toFixed(3)}  p90 ${r.p90.toFixed(3)} → faster / slower ${fasterOverSlower.toFixed(3)} (${r.median < 1 ? 'unknown' : 'known'} address faster)`);
  const b2b = stats(figures.unknownAfterKnown);
  console.log(`unknown address right after a known one (back to back, ${BACK_TO_BACK}): median ${fmt(b2b.median)}  p90 ${fmt(b2b.p90)} (${(b2b.median / u.median).toFixed(2)}× the settled unknown)`);
  reportBench({
    name: 'password reset: faster / slower path (unknown vs known address), median of per-pair ratios',
    ours: fasterOverSlower,
    baseline: 1,
    unit: '×',
    goal: 0.9,
    higherIsBetter: true,
    baselineLabel: 'parity: both paths taking the same time; pairs of one known + one unknown request on a settled server',
    extra: { pairs: PAIRS, warmPairs: WARM_PAIRS, settleMs: SETTLE_MS, known: k, unknown: u, unknownOverKnown: r, unknownBackToBack: b2b },
  });
} finally {
  await child?.stop();
  await stack.close();
  await stopInfra();
}
