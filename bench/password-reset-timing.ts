/**
 * Does POST /api/auth/password-reset take as long for an unknown address as for a known one?
 * The real app (test stack: embedded Postgres, Temporal dev server, accounts worker) with the
 * production argon2 cost (PASSWORD_HASH_MEMORY_KIB=19456), alternating known / unknown
 * requests one at a time. The known address gets a fresh token and workflow start each time
 * (ACCOUNT_EMAILS_PER_HOUR raised so pacing does not skip the work).
 *
 *   flock /tmp/ht-fullsuite.lock tsx bench/password-reset-timing.ts [rounds=60]
 *
 * Prints median / p90 / mean per path and the difference of medians; asserts nothing. Its row
 * in `npm run bench`: ours = the unknown address's median, baseline = the known address's
 * (goal ≥ 0.9×: an unknown address answering clearly faster would tell who has an account).
 */
import { startTestStack } from '../test/support/stack';
import { apiClient, registerUser, uniqueEmail } from '../test/support/http';
import { TaskQueue } from '../workflows/queues';
import { stopInfra } from '../test/support/infra';
import { reportBench } from './lib/report';

const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 60);
const stack = await startTestStack({ queues: [TaskQueue.accounts], env: { PASSWORD_HASH_MEMORY_KIB: '19456', ACCOUNT_EMAILS_PER_HOUR: '100000' } });
try {
  const api = apiClient(stack.baseUrl);
  const known = await registerUser(api);
  const time = async (email: string) => {
    const t0 = performance.now();
    const res = await api.post('/api/auth/password-reset', { email });
    if (res.status !== 202) throw new Error(`unexpected ${res.status}`);
    return performance.now() - t0;
  };
  // Warm-up: the dummy hash is made on first use, connections and the Temporal client open.
  for (let i = 0; i < 5; i++) {
    await time(known.email);
    await time(uniqueEmail('warm'));
  }
  // The known address's link is made after its answer: let that settle before the next
  // request, so each figure is the request's own time on an idle server (what one probe
  // sees). The back-to-back figure below is the other channel: an unknown address asked
  // right after a known one shares the CPU with that request's deferred work.
  const settle = () => new Promise((r) => setTimeout(r, 150));
  const figures = { known: [] as number[], unknown: [] as number[], unknownAfterKnown: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    figures.known.push(await time(known.email));
    await settle();
    figures.unknown.push(await time(uniqueEmail('nobody')));
    await settle();
  }
  for (let i = 0; i < rounds; i++) {
    await time(known.email);
    figures.unknownAfterKnown.push(await time(uniqueEmail('nobody')));
    await settle();
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)], mean: s.reduce((a, b) => a + b, 0) / s.length };
  };
  const k = stats(figures.known);
  const u = stats(figures.unknown);
  const fmt = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`password-reset request, ${rounds} alternating rounds, argon2 19456 KiB`);
  console.log(`known   address: median ${fmt(k.median)}  p90 ${fmt(k.p90)}  mean ${fmt(k.mean)}`);
  console.log(`unknown address: median ${fmt(u.median)}  p90 ${fmt(u.p90)}  mean ${fmt(u.mean)}`);
  console.log(`difference of medians: ${fmt(k.median - u.median)}`);
  const b2b = stats(figures.unknownAfterKnown);
  console.log(`unknown address right after a known one (back to back): median ${fmt(b2b.median)}  p90 ${fmt(b2b.p90)} (${(b2b.median / u.median).toFixed(2)}× the settled unknown)`);
  // Either path answering clearly faster tells who has an account: the faster over the slower median.
  reportBench({
    name: 'password reset: faster vs slower path (unknown / known address), median',
    ours: Math.min(u.median, k.median),
    baseline: Math.max(u.median, k.median),
    unit: 'ms',
    goal: 0.9,
    higherIsBetter: true,
    baselineLabel: 'the slower of known address (token + workflow start after the answer) and unknown, one at a time on a settled server',
    extra: { rounds, known: k, unknown: u, unknownBackToBack: b2b },
  });
} finally {
  await stack.close();
  await stopInfra();
}
