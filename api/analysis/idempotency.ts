import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AnalysisRequest } from '../../entities';
import type { AnalysisStatus } from '../../domain/analysis';
import { HttpError } from '../http/errors';

/**
 * Idempotency of POST /api/analyses: a retry with the same Idempotency-Key by the same user
 * within IDEMPOTENCY_WINDOW_HOURS gets the analysis the first request created, never a
 * second one (nor a second charge). The key is claimed in the statement that creates the
 * analysis and reserves its credits (entities/analysis-start.ts).
 */

/** What POST /api/analyses answers, first time or replayed. */
export interface StartedAnalysis {
  id: string;
  status: AnalysisStatus;
  workflowId: string;
  credits: number;
}

/** sha256 of what a POST asks for: the same key with another request is a 409. */
export const requestHashOf = (body: { horseId: string; type: string; videoKey: string }) =>
  createHash('sha256').update(JSON.stringify([body.horseId, body.type, body.videoKey])).digest('hex');

/** The analysis an earlier request with this key created, while its claim lasts; 409 when the key was used for another request. */
export async function priorAnalysis(em: EntityManager, userId: string, key: string, requestHash: string): Promise<StartedAnalysis | null> {
  const prior = await em.fork().findOne(AnalysisRequest, { userId, key, expiresAt: { $gt: new Date() } }, { populate: ['analysis'] });
  if (!prior) return null;
  if (prior.requestHash !== requestHash) {
    throw new HttpError(409, 'This Idempotency-Key was already used for another request (different horse, type or video); use a new key for a new analysis');
  }
  const a = prior.analysis;
  return { id: a.id, status: a.status, workflowId: a.workflowId, credits: a.credits };
}

/** The client was told nothing started: its retry with the same key must start afresh. */
export async function releaseKey(em: EntityManager, claim: { userId: string; key: string; analysisId: string }): Promise<void> {
  await em.fork().nativeDelete(AnalysisRequest, { userId: claim.userId, key: claim.key, analysis: claim.analysisId });
}
