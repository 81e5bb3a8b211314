/**
 * Benchmark: healthReminders workflows (one per horse) asleep on the Temporal dev server,
 * with the health worker as production runs it (own bundle, cache, WORKER_TUNING):
 * its RSS with N asleep vs the same worker idle, and how late reminders go out when M fall
 * due in the same minute vs raw Temporal timer workflows (bench/lib/sleeping-workflows.ts).
 *
 *   npm run bench -- --only=health            # quick: 1,000 asleep, 200 due in the same minute (1-minute window)
 *   npm run bench -- --only=health --full     # 10,000 asleep, 1,000 due in the same minute
 *   node --expose-gc --import tsx bench/health-workflows.ts --at-once      # the 200 all at one instant (no window)
 *   node --expose-gc --import tsx bench/health-workflows.ts --asleep=3000 --due=500
 *   node --expose-gc --import tsx bench/health-workflows.ts --memory-only   # RSS only, no lateness part
 *
 * WORKER_TUNING='{"health":{"maxCachedWorkflows":100}}' changes the worker as it would in
 * production. Not a test: figures only.
 */
import { dayOf, plusDays } from '../domain/health';
import type { HealthReminderOutcome, HealthReminderRequest, HealthReminderSnapshot } from '../activities/health';
import { healthWorkflowId } from '../workflows/ids';
import { TaskQueue } from '../workflows/queues';
import { dueOffsetSecondsOf, dueTimeOf, runSleepingBench } from './lib/sleeping-workflows';

await runSleepingBench(
  {
    feature: 'health',
    queue: TaskQueue.health,
    workflowType: 'healthReminders',
    workflowId: healthWorkflowId,
    args: (key) => [{ horseId: key }],
    script: import.meta.url,
    sendActivity: 'sendHealthReminder',
    activities: ({ sent }) => {
      const sentStages = new Map<string, ('reminder' | 'overdue')[]>();
      // A far horse had its farrier done recently: due in 30 days. A due horse's farrier is due
      // today, reminded with no lead time at the key's HH:MM (REMINDER_TIME_UTC).
      const snapshot = (horseId: string) => {
        const time = dueTimeOf(horseId);
        const dueDate = time ? dayOf(Date.now()) : plusDays(dayOf(Date.now()), 30);
        return {
          found: true as const,
          // The horse's second in the 1-minute reminder window (0 with --at-once), as loadHealthReminders carries it.
          ...(time ? { reminderTimeUtc: time, reminderOffsetSeconds: dueOffsetSecondsOf(horseId) } : {}),
          items: [{ key: 'farrier' as const, title: 'Farrier', dueDate, sent: sentStages.get(horseId) ?? [], leadDays: time ? 0 : 2 }],
        };
      };
      return {
        loadHealthReminders: async ({ horseId }: { horseId: string }): Promise<HealthReminderSnapshot> => snapshot(horseId),
        // As the real send: the snapshot read after it ran comes back with the outcome.
        sendHealthReminder: async (req: HealthReminderRequest): Promise<HealthReminderOutcome> => {
          sent(req.horseId);
          sentStages.set(req.horseId, [...(sentStages.get(req.horseId) ?? []), req.stage]);
          return { outcome: 'sent', recipients: ['bench'], channels: ['in-app'], snapshot: snapshot(req.horseId) };
        },
        startMissingHealthWorkflows: async () => ({ checked: 0, started: [] }),
      };
    },
  },
  { quick: { asleep: 1_000, due: 200 }, full: { asleep: 10_000, due: 1_000 } },
);
