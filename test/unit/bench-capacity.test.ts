import { expect } from 'chai';
import { capacityRows, historyCounts, replicasFor, TARGETS } from '../../bench/lib/capacity';
import type { BenchResult } from '../../bench/lib/report';

/** A bench row as bench/lib/report.ts writes it; only name and extra matter to the capacity table. */
const row = (name: string, extra: Record<string, unknown>, ours = 0): BenchResult => ({
  name,
  ours,
  baseline: 1,
  unit: 'x',
  goal: 1,
  higherIsBetter: true,
  extra,
  bench: 'test',
  ratio: 1,
  met: true,
  mode: 'quick',
  at: '2026-12-03T00:00:00Z',
});

describe('capacity on paper (bench/lib/capacity.ts)', () => {
  it('plans replicas at the target utilisation, rounding up, never below the minimum', () => {
    expect(replicasFor(0, TARGETS)).to.equal(2);
    // 3 cores at 60 % = 5 vCPU = 3 replicas of 2 vCPU.
    expect(replicasFor(3, TARGETS)).to.equal(3);
    expect(replicasFor(6, { ...TARGETS, minReplicas: 1 })).to.equal(5);
  });

  it('derives the API and analysis-worker rows from the measured per-unit CPU', () => {
    const rows = capacityRows(
      [
        row('GET /api/horses/:id (JWT) throughput', { ours: { cpuMsPerRequest: 1.2 } }),
        row('POST /api/analyses → workflow started, throughput', { apiCpuMsPerStart: 6 }),
        row('Stripe webhook → signalWithStart, throughput', { apiCpuMsPerEvent: 2.5 }),
        row('frames: 12 from a 60 s 1080p clip', { cpuSeconds: 2 }),
        row('frames: 12 from a 10 min 1080p clip', { cpuSeconds: 7.2 }),
      ],
      { perAnalysis: 50, perReminder: 11 },
    );
    const by = (what: string) => rows.find((r) => r.what.includes(what))!;
    // 100,000 horses × 1 read/min = 1,667 req/s × 1.2 ms = 2.0 cores.
    expect(by('authenticated read').needs).to.equal('2 cores');
    // + 0.28 starts/s × 6 ms + 20 events/s × 2.5 ms = 2.05 cores / 0.6 / 2 vCPU → 2 replicas.
    expect(by('API replicas').needs).to.contain('2 × 2 vCPU');
    // 1,000/hour × 7.2 CPU s (the longer clip) = 2 cores → 2 / 0.6 / 2 vCPU → 2 replicas.
    expect(by('frame extraction').needs).to.contain('2 cores → **2 × 2 vCPU**');
    expect(by('frame extraction').needs).to.contain('12 AI calls in flight');
    // 10,000 reminders over 30 minutes = 5.6/s × 11 events + 0.28 analyses/s × 50 events.
    expect(by('Temporal').needs).to.match(/^75 events\/s/);
  });

  it('says which figures the run did not measure instead of guessing them', () => {
    const rows = capacityRows([], { perAnalysis: 50, perReminder: 11 });
    expect(rows.find((r) => r.what.startsWith('authenticated read'))!.measured).to.contain('--only=api');
    expect(rows.find((r) => r.what.startsWith('frame extraction'))!.measured).to.contain('--only=frames');
    expect(rows.find((r) => r.what.startsWith('reminders'))!.measured).to.contain('not in this run');
  });

  it('counts events per analysis and per reminder wake-up (timer fired until the next timer started, with a send)', () => {
    const e = (eventType: string, activity?: string) => ({ eventType, ...(activity ? { activityTaskScheduledEventAttributes: { activityType: { name: activity } } } : {}) });
    const wake = (send: boolean) => [
      e('EVENT_TYPE_TIMER_FIRED'),
      e('EVENT_TYPE_WORKFLOW_TASK_SCHEDULED'),
      ...(send ? [e('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', 'sendHealthReminder')] : [e('EVENT_TYPE_ACTIVITY_TASK_SCHEDULED', 'loadHealthReminders')]),
      e('EVENT_TYPE_TIMER_STARTED'),
    ];
    const counts = historyCounts({ events: [e('A'), e('B'), e('C')] }, { events: [e('EVENT_TYPE_TIMER_STARTED'), ...wake(false), ...wake(true), ...wake(true)] });
    expect(counts).to.deep.equal({ perAnalysis: 3, perReminder: 4 });
  });
});
