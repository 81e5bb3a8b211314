import { proxyActivities } from '@temporalio/workflow';
import type { HealthReconcileActivities, StartMissingHealthReport } from '../../activities/health/reconcile';
import type { StorageOrphanActivities, StorageOrphansReport } from '../../activities/storage/orphans';

const reconcilePolicy = { startToCloseTimeout: '5 minutes', retry: { initialInterval: '5 seconds', maximumAttempts: 3 } } as const;
const { startMissingHealthWorkflows } = proxyActivities<HealthReconcileActivities>(reconcilePolicy);
const { deleteStorageOrphans } = proxyActivities<StorageOrphanActivities>(reconcilePolicy);

export interface HealthReconcileInput {
  /** Horses per run (default 500); the Schedule comes back for the rest. */
  limit?: number;
  /** Orphaned attachment objects deleted per run (default 200). */
  orphanLimit?: number;
}

export type HealthReconcileResult = StartMissingHealthReport & { orphans: StorageOrphansReport };

/**
 * Run by the `health-reconcile` Schedule on the `health` queue:
 * - starts the reminder workflow of every horse with a health record whose
 *   `health-<horseId>` workflow is not running — the API records first and then
 *   signals-with-start, so Temporal being down in between (or a workflow terminated by
 *   hand) would leave a horse without reminders;
 * - deletes the attachment objects left in storage by uploads whose database write failed
 *   and whose immediate delete failed too (storage_orphans).
 */
export async function healthReconcile(input: HealthReconcileInput = {}): Promise<HealthReconcileResult> {
  const report = await startMissingHealthWorkflows({ limit: input.limit ?? 500 });
  const orphans = await deleteStorageOrphans({ limit: input.orphanLimit ?? 200 });
  return { ...report, orphans };
}
