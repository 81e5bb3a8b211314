import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { analysisWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { AnalysisTypeKey, HorseIdKey, UserIdKey } from '../search-attributes';
import type { AnalysisType } from '../../domain/analysis';

/**
 * Client-side helper (API and reconcile) that starts the analyzeVideo workflow of a row.
 * Never imported by workflow code. The id is the analysis id: a second start for the same
 * row finds the running workflow (USE_EXISTING) and a closed one is never re-run.
 */
export async function startAnalysisWorkflow(client: Client, a: { id: string; userId: string; horseId: string; type: AnalysisType }) {
  return client.workflow.start('analyzeVideo', {
    taskQueue: TaskQueue.analysis,
    workflowId: analysisWorkflowId(a.id),
    args: [{ analysisId: a.id, userId: a.userId, type: a.type }],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: new TypedSearchAttributes([
      { key: UserIdKey, value: a.userId },
      { key: HorseIdKey, value: a.horseId },
      { key: AnalysisTypeKey, value: a.type },
    ]),
  });
}
