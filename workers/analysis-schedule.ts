import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TaskQueue } from '../workflows/queues';

export const ANALYSIS_RECONCILE_SCHEDULE_ID = 'analysis-reconcile';

/**
 * Creates the `analysis-reconcile` Schedule if it does not exist (every 5 minutes, no
 * overlap). Called when a worker polling the analysis queue starts; idempotent.
 */
export async function ensureAnalysisReconcileSchedule(client: Client, opts: { every?: string; olderThanMinutes?: number } = {}): Promise<'created' | 'exists'> {
  try {
    await client.schedule.create({
      scheduleId: ANALYSIS_RECONCILE_SCHEDULE_ID,
      spec: { intervals: [{ every: (opts.every ?? '5 minutes') as '5 minutes' }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'reconcileAnalyses',
        args: [{ olderThanMinutes: opts.olderThanMinutes ?? 10 }],
        taskQueue: TaskQueue.analysis,
        workflowRunTimeout: '10 minutes',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}
