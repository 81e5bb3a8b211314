import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AnalysisRequest } from '../../entities';
import { IDEMPOTENCY_WINDOW_HOURS, type AnalysisStatus } from '../../domain/analysis';
import { HttpError } from '../http/errors';

/**
 * Idempotency of POST /api/analyses: a retry with the same Idempotency-Key by the same user
 * within IDEMPOTENCY_WINDOW_HOURS gets the analysis the first request created, never a
 * second one (nor a second charge). The key is claimed in the transaction that creates the
 * analysis and reserves its credits.
 */

/** What POST /api/analyses answers, first time or replayed. */
export interface StartedAnalysis {
  id: string;
  status: AnalysisStatus;
  workflowId: string;
  credits: number;
}

/** A retried POST with the same Idempotency-Key found the analysis the first one created. */
export class IdempotentReplay extends Error {}

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

/**
 * Claims the key for this analysis inside the caller's transaction (or takes over an expired
 * claim). A concurrent request with the same key waits here for the first one's transaction,
 * then finds its claim: IdempotentReplay.
 */
export async function claimKey(tx: EntityManager, claim: { userId: string; key: string; requestHash: string; analysisId: string }): Promise<void> {
  const claimed = await tx.getConnection().execute(
    `insert into analysis_requests (id, created_at, updated_at, user_id, key, request_hash, analysis_id, expires_at)
     values (?, now(), now(), ?, ?, ?, ?, now() + make_interval(hours => ?))
     on conflict (user_id, key) do update
       set request_hash = excluded.request_hash, analysis_id = excluded.analysis_id, expires_at = excluded.expires_at, created_at = now(), updated_at = now()
       where analysis_requests.expires_at <= now()
     returning id`,
    [randomUUID(), claim.userId, claim.key, claim.requestHash, claim.analysisId, IDEMPOTENCY_WINDOW_HOURS],
    'all',
    tx.getTransactionContext(),
  );
  if (claimed.length === 0) throw new IdempotentReplay();
}

/** The client was told nothing started: its retry with the same key must start afresh. */
export async function releaseKey(em: EntityManager, claim: { userId: string; key: string; analysisId: string }): Promise<void> {
  await em.fork().nativeDelete(AnalysisRequest, { userId: claim.userId, key: claim.key, analysis: claim.analysisId });
}
