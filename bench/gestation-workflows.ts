/**
 * Benchmark: gestationTracking workflows asleep on the Temporal dev server, with the
 * gestation worker as production runs it (bundle, cache, WORKER_TUNING): its RSS with N
 * asleep vs the same worker idle, and how late reminders go out when M fall due in the same
 * minute vs raw Temporal timer workflows (bench/lib/sleeping-workflows.ts).
 *
 *   npm run bench -- --only=gestation            # quick: 1,000 asleep, 200 due in the same minute (1-minute window)
 *   npm run bench -- --only=gestation --full     # 10,000 asleep, 1,000 due in the same minute
 *   node --expose-gc --import tsx bench/gestation-workflows.ts --at-once      # the 200 all at one instant (no window)
 *   node --expose-gc --import tsx bench/gestation-workflows.ts --asleep=3000 --due=500
 *   node --expose-gc --import tsx bench/gestation-workflows.ts --memory-only   # RSS only, no lateness part
 *
 * Not a test: figures only.
 */
import { addDaysIso, dateOf } from '../domain/gestation';
import type { GestationSnapshot, ReminderOutcome, ReminderRequest } from '../activities/gestation';
import type { GestationInput } from '../workflows/gestation/messages';
import { gestationWorkflowId } from '../workflows/ids';
import { TaskQueue } from '../workflows/queues';
import { dueOffsetSecondsOf, dueTimeOf, runSleepingBench } from './lib/sleeping-workflows';

/** The first milestone (pregnancy check) is due this many days after the cover. */
const FIRST_MILESTONE_DAY = 14;

/** A far gestation was covered today (first reminder in 12 days); a due one 14 days ago, reminded with no lead time at the key's HH:MM. */
const planOf = (key: string) => {
  const time = dueTimeOf(key);
  const today = dateOf(Date.now());
  return {
    anchorDate: time ? addDaysIso(today, -FIRST_MILESTONE_DAY) : today,
    anchor: 'cover' as const,
    leadDays: time ? 0 : 2,
    options: {},
    previousGestationDays: [],
    // The gestation's second in the 1-minute reminder window (0 with --at-once), as loadGestation carries it.
    ...(time ? { reminderTimeUtc: time, reminderOffsetSeconds: dueOffsetSecondsOf(key) } : {}),
  };
};

await runSleepingBench(
  {
    feature: 'gestation',
    queue: TaskQueue.gestation,
    workflowType: 'gestationTracking',
    workflowId: gestationWorkflowId,
    // As the API starts it: the plan with the reminder clock (time of day and offset).
    args: (key): [GestationInput] => [{ gestationId: key, userId: 'bench', ...planOf(key) }],
    script: import.meta.url,
    sendActivity: 'sendGestationReminder',
    activities: ({ sent }) => {
      const sentAt = new Map<string, Record<string, string>>();
      const snapshot = (gestationId: string) => ({
        found: true as const,
        status: 'tracking' as const,
        plan: planOf(gestationId),
        done: [],
        sent: sentAt.get(gestationId) ?? {},
        twinsChecks: [],
      });
      return {
        loadGestation: async ({ gestationId }: { gestationId: string }): Promise<GestationSnapshot> => snapshot(gestationId),
        // As the real send: the snapshot read after it ran comes back with the outcome.
        sendGestationReminder: async (req: ReminderRequest): Promise<ReminderOutcome> => {
          sent(req.gestationId);
          const at = new Date().toISOString();
          sentAt.set(req.gestationId, { ...sentAt.get(req.gestationId), [req.milestone.id]: at });
          return { outcome: 'sent', sentAt: at, channels: ['in-app'], snapshot: snapshot(req.gestationId) };
        },
        sendGestationAlert: async () => {
          throw new Error('no alert is due during the benchmark');
        },
      };
    },
  },
  { quick: { asleep: 1_000, due: 200 }, full: { asleep: 10_000, due: 1_000 } },
);
