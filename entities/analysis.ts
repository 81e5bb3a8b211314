import { defineEntity, LockMode, p, type InferEntity } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { settleReservation } from './credit-ledger';
import { baseProperties } from './base';
import { Organization } from './accounts';
import { Horse } from './horses';
import { CreditTransaction } from './credits';
import { ANALYSIS_CLOSERS, ANALYSIS_STATUSES, ANALYSIS_TYPES, isTerminal, type AnalysisCloser, type AnalysisResult, type AnalysisStage } from '../domain/analysis';

/**
 * One AI video analysis. The row is created with its credit reservation in one
 * transaction (status `pending`); the analyzeVideo workflow moves it to running, then
 * completed / failed / canceled, and settles the reservation.
 */
export const Analysis = defineEntity({
  name: 'Analysis',
  tableName: 'analyses',
  // (user, createdAt) and (organization, createdAt): the start limits count the newest rows of
  // one account / organization in the last hour and sum the organization's month (analysis-start.ts).
  indexes: [{ properties: ['horse', 'createdAt'] }, { properties: ['status', 'createdAt'] }, { properties: ['userId', 'createdAt'] }, { properties: ['organization', 'createdAt'] }],
  properties: {
    ...baseProperties,
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    horse: () => p.manyToOne(Horse).deleteRule('cascade'),
    /** Who asked for it: their credits pay, they are told the outcome. */
    userId: p.uuid(),
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
    /**
     * What the user typed when canceling, written by the API before it signals the workflow:
     * the signal carries no free text (workflow histories must hold no personal data), and
     * closing the row as canceled records this as its error.
     */
    cancelReason: p.text().nullable(),
    startedAt: p.datetime().nullable(),
    completedAt: p.datetime().nullable(),
    /** Who ended the row (workflow, api, reconcile): the workflow tells the owner only about its own outcome. */
    closedBy: p.enum(ANALYSIS_CLOSERS).nullable(),
  },
});
export type Analysis = InferEntity<typeof Analysis>;

/**
 * `Idempotency-Key` of POST /api/analyses: one per user and key. Within its window a
 * retried POST answers with the analysis the first one created; after it the row is reused.
 */
export const AnalysisRequest = defineEntity({
  name: 'AnalysisRequest',
  tableName: 'analysis_requests',
  uniques: [{ properties: ['userId', 'key'] }],
  properties: {
    ...baseProperties,
    userId: p.uuid(),
    key: p.string(),
    /** sha256 of the request body: the same key with another body is a 409. */
    requestHash: p.string(),
    analysis: () => p.manyToOne(Analysis).deleteRule('cascade'),
    expiresAt: p.datetime().index(),
  },
});
export type AnalysisRequest = InferEntity<typeof AnalysisRequest>;

/** Validated answers by video content + type + prompt version, reused until they expire. */
export const AnalysisCacheEntry = defineEntity({
  name: 'AnalysisCacheEntry',
  tableName: 'analysis_cache',
  properties: {
    ...baseProperties,
    /** `<organizationId>:<sha256>:<type>:<promptVersion>` (domain/analysis.ts cacheKeyOf): never shared across tenants. */
    cacheKey: p.string().unique(),
    sandbox: p.boolean(),
    result: p.json<AnalysisResult>(),
    provider: p.string(),
    model: p.string(),
    expiresAt: p.datetime().index(),
  },
});
export type AnalysisCacheEntry = InferEntity<typeof AnalysisCacheEntry>;

/**
 * Running AI usage totals per provider and model, kept at write time (every provider answer,
 * valid or not, and every analysis an AI answered) so /metrics reads a handful of rows
 * instead of aggregating the analyses table on every scrape.
 */
export const AiUsageTotal = defineEntity({
  name: 'AiUsageTotal',
  tableName: 'ai_usage_totals',
  uniques: [{ properties: ['provider', 'model'] }],
  properties: {
    ...baseProperties,
    provider: p.string(),
    model: p.string(),
    /** Provider calls that answered (billed), whether or not the answer was valid. */
    calls: p.double().default(0),
    inputTokens: p.double().default(0),
    outputTokens: p.double().default(0),
    estimatedCostUsd: p.double().default(0),
    /** Analyses completed with this provider's answer (not the cache); `fallbackAnalyses` of them by the fallback. */
    analyses: p.double().default(0),
    fallbackAnalyses: p.double().default(0),
  },
});
export type AiUsageTotal = InferEntity<typeof AiUsageTotal>;

/**
 * Every provider answer we paid for, stored with its usage in one transaction, one per
 * analysis and provider (the workflow calls each provider at most once per analysis; its
 * activity retries are the same call). A retry of the provider activity reuses the stored
 * answer instead of calling the provider again, and the unique key makes counting the usage
 * happen once whatever fails around the write. The row is kept after the analysis is deleted:
 * it is the record of what each call cost (no foreign key, on purpose); its text is not, since
 * it is the analysis content itself: once the analysis is finished (completed, failed,
 * canceled or deleted) forgetProviderAnswerTexts empties it.
 */
export const AnalysisProviderAnswer = defineEntity({
  name: 'AnalysisProviderAnswer',
  tableName: 'analysis_provider_answers',
  uniques: [{ properties: ['analysisId', 'provider'] }],
  properties: {
    ...baseProperties,
    analysisId: p.uuid(),
    provider: p.string(),
    /** The model that answered, as the provider reported it. */
    model: p.string(),
    /** The raw answer (validated when used: an invalid one stays invalid on a retry); null once the analysis is finished. */
    text: p.text().nullable(),
    inputTokens: p.integer(),
    outputTokens: p.integer(),
    estimatedCostUsd: p.double().nullable(),
    latencyMs: p.integer(),
    sandbox: p.boolean(),
  },
});
export type AnalysisProviderAnswer = InferEntity<typeof AnalysisProviderAnswer>;

/** A provider answer as the analysis activities use it (stored or just received). */
export interface ProviderAnswer {
  provider: string;
  model: string;
  text: string;
  inputTokens: number;
  outputTokens: number;
  estimatedCostUsd: number | null;
  latencyMs: number;
  sandbox: boolean;
}

/** Where provider answers are kept so each is paid for and counted once (default: saveProviderAnswer / findProviderAnswer). */
export interface ProviderAnswerStore {
  find(analysisId: string, provider: string): Promise<ProviderAnswer | null>;
  /** Stores the answer and counts its usage, once; answers with the stored one if an earlier attempt stored it first. */
  save(analysisId: string, answer: ProviderAnswer): Promise<{ answer: ProviderAnswer; counted: boolean }>;
  /** Drops the answer texts of a finished analysis, keeping their cost. */
  forget(analysisId: string): Promise<void>;
}

const answerOf = (r: AnalysisProviderAnswer): ProviderAnswer => ({
  provider: r.provider,
  model: r.model,
  // Emptied only after the analysis finished, when no provider activity of it runs any more.
  text: r.text ?? '',
  inputTokens: r.inputTokens,
  outputTokens: r.outputTokens,
  // A double may come back from the driver as a string.
  estimatedCostUsd: r.estimatedCostUsd == null ? null : Number(r.estimatedCostUsd),
  latencyMs: r.latencyMs,
  sandbox: r.sandbox,
});

export async function findProviderAnswer(em: EntityManager, analysisId: string, provider: string): Promise<ProviderAnswer | null> {
  const row = await em.fork().findOne(AnalysisProviderAnswer, { analysisId, provider });
  return row && row.text != null ? answerOf(row) : null;
}

/**
 * Drops the stored answer texts of a finished analysis, keeping what each call cost: the
 * text is the analysis content, and it must not outlive the analysis (or the horse or
 * organization it belonged to, whose deletion finishes it). Idempotent.
 */
export async function forgetProviderAnswerTexts(em: EntityManager, analysisId: string): Promise<void> {
  await em.fork().getConnection().execute('update analysis_provider_answers set text = null, updated_at = now() where analysis_id = ? and text is not null', [analysisId]);
}

/**
 * Stores one provider answer and counts its usage (recordProviderUsage) in one transaction,
 * keyed by analysis + provider: when an earlier attempt already stored an answer for that
 * key (its commit succeeded but the attempt did not learn it, or it crashed right after),
 * nothing is counted again and the stored answer is returned.
 */
export async function saveProviderAnswer(em: EntityManager, analysisId: string, a: ProviderAnswer): Promise<{ answer: ProviderAnswer; counted: boolean }> {
  return em.fork().transactional(async (tx) => {
    const inserted = await tx.getConnection().execute<{ id: string }[]>(
      `insert into analysis_provider_answers (id, created_at, updated_at, analysis_id, provider, model, text, input_tokens, output_tokens, estimated_cost_usd, latency_ms, sandbox)
       values (gen_random_uuid(), now(), now(), ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (analysis_id, provider) do nothing returning id`,
      [analysisId, a.provider, a.model, a.text, a.inputTokens, a.outputTokens, a.estimatedCostUsd, a.latencyMs, a.sandbox],
      'all',
      tx.getTransactionContext(),
    );
    if (inserted.length === 0) {
      const stored = await tx.findOneOrFail(AnalysisProviderAnswer, { analysisId, provider: a.provider });
      return { answer: answerOf(stored), counted: false };
    }
    await recordProviderUsage(tx, analysisId, a);
    return { answer: a, counted: true };
  });
}

/** The default store: Postgres, through the worker's ORM. */
export const providerAnswerStore = (em: EntityManager): ProviderAnswerStore => ({
  find: (analysisId, provider) => findProviderAnswer(em, analysisId, provider),
  save: (analysisId, answer) => saveProviderAnswer(em, analysisId, answer),
  forget: (analysisId) => forgetProviderAnswerTexts(em, analysisId),
});

/** One provider answer: tokens and estimated cost, counted once it is known (before validating it). */
export interface ProviderUsage {
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  estimatedCostUsd: number | null;
}

/**
 * Adds one provider answer's usage to its analysis (so a failed analysis still shows, and
 * counts toward the organization's monthly spend cap with, what its calls cost) and to the
 * running totals /metrics reads, in one transaction.
 */
export async function recordProviderUsage(em: EntityManager, analysisId: string, u: ProviderUsage): Promise<void> {
  const cost = u.estimatedCostUsd ?? 0;
  // Joins the caller's transaction when there is one (saveProviderAnswer). Raw statements get
  // the transaction context explicitly: without it they run on another pool connection, each
  // committing on its own (which let a failed usage write leave the totals counted).
  await em.transactional(async (tx) => {
    const conn = tx.getConnection();
    await conn.execute(
      `update analyses set input_tokens = coalesce(input_tokens, 0) + ?, output_tokens = coalesce(output_tokens, 0) + ?,
              estimated_cost_usd = coalesce(estimated_cost_usd, 0) + ?, updated_at = now()
        where id = ?`,
      [u.inputTokens, u.outputTokens, cost, analysisId],
      'run',
      tx.getTransactionContext(),
    );
    await conn.execute(
      `insert into ai_usage_totals (id, created_at, updated_at, provider, model, calls, input_tokens, output_tokens, estimated_cost_usd, analyses, fallback_analyses)
       values (gen_random_uuid(), now(), now(), ?, ?, 1, ?, ?, ?, 0, 0)
       on conflict (provider, model) do update set calls = ai_usage_totals.calls + 1,
              input_tokens = ai_usage_totals.input_tokens + excluded.input_tokens,
              output_tokens = ai_usage_totals.output_tokens + excluded.output_tokens,
              estimated_cost_usd = ai_usage_totals.estimated_cost_usd + excluded.estimated_cost_usd,
              updated_at = now()`,
      [u.provider, u.model, u.inputTokens, u.outputTokens, cost],
      'run',
      tx.getTransactionContext(),
    );
  });
}

/** Counts an analysis an AI answered (not the cache) in the running totals; inside the completing transaction. */
export async function countAnsweredAnalysis(tx: EntityManager, provider: string, model: string, fallbackUsed: boolean): Promise<void> {
  await tx.getConnection().execute(
    `insert into ai_usage_totals (id, created_at, updated_at, provider, model, calls, input_tokens, output_tokens, estimated_cost_usd, analyses, fallback_analyses)
     values (gen_random_uuid(), now(), now(), ?, ?, 0, 0, 0, 0, 1, ?)
     on conflict (provider, model) do update set analyses = ai_usage_totals.analyses + 1,
            fallback_analyses = ai_usage_totals.fallback_analyses + excluded.fallback_analyses, updated_at = now()`,
    [provider, model, fallbackUsed ? 1 : 0],
    'run',
    // Without the context the statement runs on another pool connection, outside the transaction.
    tx.getTransactionContext(),
  );
}

export interface ClosedAnalysis {
  /** False when the row was already terminal (a retry) or does not exist. */
  changed: boolean;
  found: boolean;
  status: string;
  horseName: string;
  type: Analysis['type'] | null;
  credits: number;
  /** Who ended the row (null: missing, or closed before this was recorded). */
  closedBy?: AnalysisCloser | null;
  userId?: string | null;
  organizationId?: string | null;
}

/**
 * Ends an analysis as failed or canceled and releases its reservation (or spends it, with
 * `charge`), in one transaction.
 * Idempotent: a terminal row is left as it is. Used by the workflow's failure path, the API
 * when the workflow cannot be started, and the reconcile. When the row is gone (its horse or
 * organization was deleted), the reservation is still released by its key: the reserve
 * transaction carries the user and the amount.
 */
export async function closeAnalysis(
  em: EntityManager,
  analysisId: string,
  outcome: { status: 'failed' | 'canceled'; errorType: string; error: string; closedBy: AnalysisCloser; /** Spend the reservation instead of releasing it (domain/analysis chargeUnfinishedAnalysis). */ charge?: boolean },
): Promise<ClosedAnalysis> {
  return em.transactional(async (tx) => {
    const row = await tx.findOne(Analysis, { id: analysisId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (!row) {
      const reserve = await tx.findOne(CreditTransaction, { key: analysisReservationKey(analysisId), kind: 'reserve' });
      // Settles once: a second call finds the release recorded and changes nothing.
      if (reserve) await settleReservation(tx, reserve.userId, reserve.amount, reserve.key, 'release', `analysis ${analysisId} ${outcome.status} (row deleted)`);
      return { changed: false, found: false, status: 'missing', horseName: '', type: null, credits: reserve?.amount ?? 0, closedBy: null, userId: reserve?.userId ?? null, organizationId: null };
    }
    await tx.populate(row, ['horse']);
    const base = { found: true, horseName: row.horse.name, type: row.type, credits: row.credits, userId: row.userId, organizationId: row.organization.id };
    if (isTerminal(row.status)) return { ...base, changed: false, status: row.status, closedBy: row.closedBy ?? null };
    row.status = outcome.status;
    row.stage = outcome.status;
    row.errorType = outcome.errorType;
    // A cancel's reason is the one the user typed (stored by the API), never carried by the workflow.
    row.error = (outcome.status === 'canceled' && row.cancelReason ? row.cancelReason : outcome.error).slice(0, 2000);
    row.completedAt = new Date();
    row.closedBy = outcome.closedBy;
    await settleReservation(tx, row.userId, row.credits, analysisReservationKey(row.id), outcome.charge ? 'commit' : 'release', `analysis ${row.id} ${outcome.status}${outcome.charge ? ' (charged: a provider was called)' : ''}`);
    await tx.flush();
    return { ...base, changed: true, status: outcome.status, closedBy: outcome.closedBy };
  });
}

/** Analyses of a horse still in flight (pending or running): the horse cannot be deleted under them. */
export function activeAnalysesOfHorse(em: EntityManager, horseId: string): Promise<number> {
  return em.count(Analysis, { horse: horseId, status: { $in: ['pending', 'running'] } });
}

export const analysisReservationKey = (analysisId: string) => `analysis:${analysisId}:reserve`;
