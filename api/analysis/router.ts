import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { text } from '../http/input-policy';
import { routeBuilder, IdParams, PaginationQuery, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { findPage, loadOwned } from '../organizations/scope';
import { loadOwnedHorse } from '../horses/access';
import type { AuthUser } from '../accounts/types';
import { Analysis, closeAnalysis } from '../../entities';
import { AnalysisLimitReached } from '../../entities/analysis-limits';
import {
  ANALYSIS_CREDIT_COST,
  ANALYSIS_STATUSES,
  ANALYSIS_TYPES,
  IDEMPOTENCY_KEY_RE,
  IDEMPOTENCY_WINDOW_HOURS,
  STAGE_PERCENT,
  isTerminal,
  type AnalysisStage,
  VIDEO_KEY_PATTERN,
} from '../../domain/analysis';
import { cancelAnalysisWorkflow, queryAnalysisProgress } from '../../workflows/analysis/client';
import type { AnalysisProgress } from '../../workflows/analysis/messages';
import { analysisUnavailable, createAnalysisService } from './service';

export const CreateAnalysisBody = z.strictObject({
  horseId: z.uuid({ message: 'must be a UUID' }),
  type: z.enum(ANALYSIS_TYPES, { message: `must be one of ${ANALYSIS_TYPES.join(', ')}` }),
  videoKey: text({ max: 500 }).openapi({ pattern: VIDEO_KEY_PATTERN, description: 'The videoKey returned by POST /api/uploads' }),
});

const ProgressView = z.object({
  stage: z.string(),
  percent: z.number(),
  provider: z.string().nullable(),
  fallbackUsed: z.boolean(),
  cacheHit: z.boolean(),
  live: z.boolean().describe('true when read from the running workflow'),
});

export const AnalysisView = z
  .object({
    id: z.uuid(),
    horseId: z.uuid(),
    organizationId: z.uuid(),
    type: z.enum(ANALYSIS_TYPES),
    status: z.enum(['pending', 'running', 'completed', 'failed', 'canceled']),
    credits: z.number().int(),
    videoKey: z.string(),
    workflowId: z.string(),
    progress: ProgressView,
    result: z.record(z.string(), z.unknown()).nullable(),
    provider: z.string().nullable(),
    model: z.string().nullable(),
    fallbackUsed: z.boolean(),
    cacheHit: z.boolean(),
    sandbox: z.boolean(),
    usage: z.object({
      inputTokens: z.number().int().nullable(),
      outputTokens: z.number().int().nullable(),
      estimatedCostUsd: z.number().nullable(),
      latencyMs: z.number().int().nullable(),
    }),
    error: z.object({ type: z.string().nullable(), message: z.string() }).nullable(),
    createdAt: z.date(),
    startedAt: z.date().nullable(),
    completedAt: z.date().nullable(),
  })
  .openapi('Analysis');

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

function view(a: Analysis, live?: AnalysisProgress | null) {
  const stage = (live?.stage ?? a.stage) as AnalysisStage;
  return {
    id: a.id,
    horseId: a.horse.id,
    organizationId: a.organization.id,
    type: a.type,
    status: a.status,
    credits: a.credits,
    videoKey: a.videoKey,
    workflowId: a.workflowId,
    progress: {
      stage,
      percent: live?.percent ?? STAGE_PERCENT[stage] ?? 0,
      provider: live?.provider ?? a.provider ?? null,
      fallbackUsed: live?.fallbackUsed ?? a.fallbackUsed,
      cacheHit: live?.cacheHit ?? a.cacheHit,
      live: Boolean(live),
    },
    result: (a.result as Record<string, unknown> | null) ?? null,
    provider: a.provider ?? null,
    model: a.model ?? null,
    fallbackUsed: a.fallbackUsed,
    cacheHit: a.cacheHit,
    sandbox: a.sandbox,
    usage: { inputTokens: a.inputTokens ?? null, outputTokens: a.outputTokens ?? null, estimatedCostUsd: num(a.estimatedCostUsd), latencyMs: a.latencyMs ?? null },
    error: a.error ? { type: a.errorType ?? null, message: a.error } : null,
    createdAt: a.createdAt,
    startedAt: a.startedAt ?? null,
    completedAt: a.completedAt ?? null,
  };
}

const loadOwnedAnalysis = (em: EntityManager, user: AuthUser, id: string): Promise<Analysis> => loadOwned(em, Analysis, user, id, { what: 'Analysis' });

function idempotencyKeyOf(req: { get(name: string): string | undefined }): string | null {
  const key = req.get('idempotency-key');
  if (key === undefined) return null;
  if (!IDEMPOTENCY_KEY_RE.test(key)) {
    throw new HttpError(400, 'Invalid Idempotency-Key header: 1 to 255 printable ASCII characters (a UUID is a good choice)', [
      { location: 'header', field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' },
    ]);
  }
  return key;
}

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);

/** AI video analyses: /api/analyses, plus /api/horses/:id/analyses. Mounted at /api. */
export function createAnalysesRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api', tag: 'analyses', authenticate: ctx.authenticate });
  const analyses = createAnalysisService(deps);

  r.post(
    '/analyses',
    {
      summary: 'Start an AI video analysis (credits reserved now, charged when it completes)',
      description:
        `Credits per type: ${Object.entries(ANALYSIS_CREDIT_COST).map(([t, c]) => `${t} ${c}`).join(', ')}. Upload the video first (POST /api/uploads). ` +
        `Optional header \`Idempotency-Key\` (1-255 printable ASCII): a retry with the same key by the same user within ${IDEMPOTENCY_WINDOW_HOURS} h answers 202 ` +
        'with the analysis the first request created (header `Idempotent-Replayed: true`) instead of starting and charging another; ' +
        'the same key with another body answers 409.',
      body: CreateAnalysisBody,
      status: 202,
      response: z.object({ id: z.uuid(), status: z.enum(ANALYSIS_STATUSES), workflowId: z.string(), credits: z.number().int() }),
      errors: [402, 403, 404, 409, 413, 422, 429, 503],
    },
    async ({ body, em, user, req, res }) => {
      try {
        const { analysis, replayed } = await analyses.start(em, user, body, idempotencyKeyOf(req), req.log);
        if (replayed) res.setHeader('idempotent-replayed', 'true');
        return analysis;
      } catch (err) {
        if (!(err instanceof AnalysisLimitReached)) throw err;
        res.setHeader('Retry-After', String(err.retryAfterSeconds));
        throw new HttpError(err.statusCode, err.message, err.details);
      }
    },
  );

  r.get('/analyses/:id', { summary: 'An analysis: status, live progress while running, the result when done', params: IdParams, response: AnalysisView, errors: [404] }, async ({ params, em, user }) => {
    const row = await loadOwnedAnalysis(em, user, params.id);
    let live: AnalysisProgress | null = null;
    if (!isTerminal(row.status)) {
      try {
        const client = await withTimeout(deps.temporal.client(), 2000);
        live = await withTimeout(queryAnalysisProgress(client, row.id), 3000);
      } catch {
        live = null; // no worker right now, or the workflow is not started yet: the stored stage answers
      }
    }
    return view(row, live);
  });

  r.get(
    '/horses/:id/analyses',
    { summary: "A horse's analyses, newest first", params: IdParams, query: PaginationQuery, response: paginated(AnalysisView), errors: [404] },
    async ({ params, query, em, user }) => {
      const horse = await loadOwnedHorse(em, user, params.id);
      const page = await findPage(em, Analysis, { horse: horse.id }, query, { orderBy: { createdAt: 'desc', id: 'desc' } });
      return { ...page, items: page.items.map((a) => view(a)) };
    },
  );

  r.post(
    '/analyses/:id/cancel',
    {
      summary: 'Cancel a pending or running analysis (credits are released unless an AI provider call had begun)',
      params: IdParams,
      body: z.strictObject({ reason: text({ max: 500, multiline: true }).optional() }).optional(),
      status: 202,
      response: z.object({ id: z.uuid(), status: z.enum(['canceling', 'canceled']) }),
      errors: [404, 409, 503],
    },
    async ({ params, body, em, user, req }) => {
      const row = await loadOwnedAnalysis(em, user, params.id);
      if (isTerminal(row.status)) throw new HttpError(409, `Analysis ${row.id} is already ${row.status}`);
      try {
        const client = await deps.temporal.client();
        // The reason is user-typed text: it stays in our database (closing the row records it), out of Temporal.
        if (body?.reason) await em.nativeUpdate(Analysis, { id: row.id }, { cancelReason: body.reason });
        await cancelAnalysisWorkflow(client, row.id);
        return { id: row.id, status: 'canceling' as const };
      } catch (err) {
        if ((err as Error).name !== 'WorkflowNotFoundError') {
          req.log.error({ err, analysisId: row.id }, 'could not signal the analysis workflow to cancel');
          throw analysisUnavailable('the analysis was not canceled and keeps running.');
        }
        // No running workflow (never started, or gone): settle the row here.
        const closed = await closeAnalysis(em.fork(), row.id, { status: 'canceled', errorType: 'Canceled', error: body?.reason ?? 'canceled by the user', closedBy: 'api' });
        if (!closed.changed) throw new HttpError(409, `Analysis ${row.id} is already ${closed.status}`);
        return { id: row.id, status: 'canceled' as const };
      }
    },
  );

  return router;
}
