import { defineEntity, LockMode, p, type InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { settleReservation } from './credit-ledger';
import { baseProperties } from './base';
import { Organization } from './accounts';
import { Horse } from './horses';
import { ANALYSIS_STATUSES, ANALYSIS_TYPES, isTerminal, type AnalysisResult, type AnalysisStage } from '../domain/analysis';

/**
 * One AI video analysis. The row is created with its credit reservation in one
 * transaction (status `pending`); the analyzeVideo workflow moves it to running, then
 * completed / failed / canceled, and settles the reservation.
 */
export const Analysis = defineEntity({
  name: 'Analysis',
  tableName: 'analyses',
  indexes: [{ properties: ['horse', 'createdAt'] }, { properties: ['status', 'createdAt'] }],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    horse: () => p.manyToOne(Horse).deleteRule('cascade'),
    /** Who asked for it: their credits pay, they are told the outcome. */
    userId: p.uuid().index(),
    type: p.enum(ANALYSIS_TYPES),
    status: p.enum(ANALYSIS_STATUSES).default('pending'),
    /** Last stage the workflow recorded (the live one comes from the progress query). */
    stage: p.string().$type<AnalysisStage>().default('queued'),
    credits: p.integer(),
    videoKey: p.string(),
    videoSha256: p.string().nullable(),
    videoDurationSec: p.double().nullable(),
    workflowId: p.string().unique(),
    result: p.json<AnalysisResult>().nullable(),
    provider: p.string().nullable(),
    model: p.string().nullable(),
    fallbackUsed: p.boolean().default(false),
    cacheHit: p.boolean().default(false),
    /** Produced by the local stand-ins, not a real model. */
    sandbox: p.boolean().default(false),
    inputTokens: p.integer().nullable(),
    outputTokens: p.integer().nullable(),
    estimatedCostUsd: p.double().nullable(),
    latencyMs: p.integer().nullable(),
    errorType: p.string().nullable(),
    error: p.text().nullable(),
    startedAt: p.datetime().nullable(),
    completedAt: p.datetime().nullable(),
  },
});
export type Analysis = InferEntity<typeof Analysis>;

/** Validated answers by video content + type + prompt version, reused until they expire. */
export const AnalysisCacheEntry = defineEntity({
  name: 'AnalysisCacheEntry',
  tableName: 'analysis_cache',
  properties: {
    ...baseProperties,
    /** `<sha256>:<type>:<promptVersion>` (domain/analysis.ts cacheKeyOf). */
    cacheKey: p.string().unique(),
    sandbox: p.boolean(),
    result: p.json<AnalysisResult>(),
    provider: p.string(),
    model: p.string(),
    expiresAt: p.datetime().index(),
  },
});
export type AnalysisCacheEntry = InferEntity<typeof AnalysisCacheEntry>;

export interface ClosedAnalysis {
  /** False when the row was already terminal (a retry) or does not exist. */
  changed: boolean;
  found: boolean;
  status: string;
  horseName: string;
  type: Analysis['type'] | null;
  credits: number;
}

/**
 * Ends an analysis as failed or canceled and releases its reservation, in one transaction.
 * Idempotent: a terminal row is left as it is. Used by the workflow's failure path, the API
 * when the workflow cannot be started, and the reconcile.
 */
export async function closeAnalysis(
  em: EntityManager,
  analysisId: string,
  outcome: { status: 'failed' | 'canceled'; errorType: string; error: string },
): Promise<ClosedAnalysis> {
  return em.transactional(async (tx) => {
    const row = await tx.findOne(Analysis, { id: analysisId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!row) return { changed: false, found: false, status: 'missing', horseName: '', type: null, credits: 0 };
    await tx.populate(row, ['horse']);
    const base = { found: true, horseName: row.horse.name, type: row.type, credits: row.credits };
    if (isTerminal(row.status)) return { ...base, changed: false, status: row.status };
    row.status = outcome.status;
    row.stage = outcome.status;
    row.errorType = outcome.errorType;
    row.error = outcome.error.slice(0, 2000);
    row.completedAt = new Date();
    await settleReservation(tx, row.userId, row.credits, analysisReservationKey(row.id), 'release', `analysis ${row.id} ${outcome.status}`);
    await tx.flush();
    return { ...base, changed: true, status: outcome.status };
  });
}

export const analysisReservationKey = (analysisId: string) => `analysis:${analysisId}:reserve`;
