/**
 * The one place that starts, signals and queries the analysis workflows (used by the API
 * and by the reconcile activity). Client side only: never imported by workflow code, and it
 * imports the workflow as a type (`typeof analyzeVideo`) so the API never loads workflow code.
 *
 * Id policy: `analysis-<analysisId>`. A second start for the same row finds the running run
 * (USE_EXISTING) and a closed one is never re-run (REJECT_DUPLICATE).
 */
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { analysisWorkflowId } from '../ids';
import { TaskQueue } from '../queues';
import { AnalysisTypeKey, HorseIdKey, UserIdKey } from '../search-attributes';
import type { AnalysisType } from '../../domain/analysis';
import type { analyzeVideo } from './analyzeVideo';
import { cancelSignal, progressQuery, type AnalysisProgress } from './messages';

export async function startAnalysisWorkflow(client: Client, a: { id: string; userId: string; horseId: string; type: AnalysisType }) {
  return client.workflow.start<typeof analyzeVideo>('analyzeVideo', {
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

export function queryAnalysisProgress(client: Client, analysisId: string): Promise<AnalysisProgress> {
  return client.workflow.getHandle<typeof analyzeVideo>(analysisWorkflowId(analysisId)).query(progressQuery);
}

/** A bare wake-up: the caller stores the user's reason on the row first (no free text goes through Temporal). */
export function cancelAnalysisWorkflow(client: Client, analysisId: string): Promise<void> {
  return client.workflow.getHandle<typeof analyzeVideo>(analysisWorkflowId(analysisId)).signal(cancelSignal);
}

export function describeAnalysisWorkflow(client: Client, analysisId: string) {
  return client.workflow.getHandle<typeof analyzeVideo>(analysisWorkflowId(analysisId)).describe();
}
