import { proxyActivities } from '@temporalio/workflow';
import type { AnalysisReconcileActivities, ReconcileReport } from '../../activities/analysis/reconcile';

const { reconcileStaleAnalyses } = proxyActivities<AnalysisReconcileActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 3 },
});

/**
 * Run by the `analysis-reconcile` Schedule: rows left `pending`/`running` longer than
 * `olderThanMinutes` without a live workflow are started (pending) or failed with their
 * credits released (the workflow is gone).
 */
export async function analysisReconcile(input: { olderThanMinutes?: number } = {}): Promise<ReconcileReport> {
  return reconcileStaleAnalyses({ olderThanMinutes: input.olderThanMinutes ?? 10 });
}
