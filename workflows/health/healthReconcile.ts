import { proxyActivities } from '@temporalio/workflow';
import type { HealthActivities, StartMissingHealthReport } from '../../activities/health';

const { startMissingHealthWorkflows } = proxyActivities<HealthActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

export interface HealthReconcileInput {
  /** Horses per run (default 500); the Schedule comes back for the rest. */
  limit?: number;
}

/**
 * Run by the `health-reconcile` Schedule on the `health` queue: starts the reminder
 * workflow of every horse with a health record whose `health-<horseId>` workflow is not
 * running — the API records first and then signals-with-start, so Temporal being down in
 * between (or a workflow terminated by hand) would leave a horse without reminders.
 */
export async function healthReconcile(input: HealthReconcileInput = {}): Promise<StartMissingHealthReport> {
  return startMissingHealthWorkflows({ limit: input.limit ?? 500 });
}
