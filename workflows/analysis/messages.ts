import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AnalysisStage, AnalysisStatus, AnalysisType } from '../../domain/analysis';

export interface AnalysisProgress {
  stage: AnalysisStage;
  percent: number;
  provider: 'anthropic' | 'openai' | 'cache' | null;
  fallbackUsed: boolean;
  cacheHit: boolean;
  frames: number;
  cancelRequested: boolean;
}

export interface AnalyzeVideoInput {
  analysisId: string;
  userId: string;
  type: AnalysisType;
}

export interface AnalyzeVideoOutcome {
  analysisId: string;
  status: Extract<AnalysisStatus, 'completed' | 'failed' | 'canceled'>;
  provider: 'anthropic' | 'openai' | null;
  fallbackUsed: boolean;
  cacheHit: boolean;
  errorType?: string;
  error?: string;
}

/**
 * Stops the analysis cleanly: in-flight work is cancelled, credits released (or charged, per
 * the policy). No payload: the user's reason is free text, stored on the row by the API,
 * never sent through Temporal.
 */
export const cancelSignal = defineSignal('cancel');
/** Live stage and percent while the workflow runs. */
export const progressQuery = defineQuery<AnalysisProgress>('progress');
