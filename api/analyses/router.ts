import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import type { MountContext } from '../routes';
import { routeBuilder, IdParams, PaginationQuery, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { loadOwnedHorse } from '../horses/access';
import type { AuthUser } from '../auth/types';
import { Analysis, Horse, analysisReservationKey, closeAnalysis } from '../../entities';
import { reserveCredits } from '../../entities/credit-ledger';
import { looksLikeVideo } from '../../adapters/media/sniff';
import { ANALYSIS_CREDIT_COST, ANALYSIS_TYPES, STAGE_PERCENT, isTerminal, parseVideoKey, type AnalysisStage } from '../../domain/analysis';
import { analysisWorkflowId } from '../../workflows/ids';
import { startAnalysisWorkflow } from '../../workflows/analysis/start';
import { cancelSignal, progressQuery, type AnalysisProgress } from '../../workflows/analysis/messages';

export const CreateAnalysisBody = z.strictObject({
  horseId: z.uuid({ message: 'must be a UUID' }),
  type: z.enum(ANALYSIS_TYPES, { message: `must be one of ${ANALYSIS_TYPES.join(', ')}` }),
  videoKey: z.string().min(1).max(500),
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

async function loadOwnedAnalysis(em: EntityManager, user: AuthUser, id: string): Promise<Analysis> {
  const row = await em.findOne(Analysis, { id, organization: { $in: memberOrgIds(user) } });
  if (!row) throw new HttpError(404, `Analysis ${id} not found`);
  return row;
}

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);

/** AI video analyses: /api/analyses, plus /api/horses/:id/analyses. Mounted at /api. */
export function createAnalysesRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api', tag: 'analyses', authenticate: ctx.authenticate });
  const { storage, config } = deps;

  r.post(
    '/analyses',
    {
      summary: 'Start an AI video analysis (credits reserved now, charged when it completes)',
      description: `Credits per type: ${Object.entries(ANALYSIS_CREDIT_COST).map(([t, c]) => `${t} ${c}`).join(', ')}. Upload the video first (POST /api/uploads).`,
      body: CreateAnalysisBody,
      status: 202,
      response: z.object({ id: z.uuid(), status: z.literal('pending'), workflowId: z.string(), credits: z.number().int() }),
      errors: [402, 404, 413, 422, 503],
    },
    async ({ body, em, user, req }) => {
      const horse = await loadOwnedHorse(em, user, body.horseId);
      const key = parseVideoKey(body.videoKey);
      if (!key) {
        throw new HttpError(400, 'Invalid body.videoKey: use the videoKey returned by POST /api/uploads', [
          { location: 'body', field: 'videoKey', message: 'is not a video key issued by POST /api/uploads' },
        ]);
      }
      // Another organization's key answers exactly like a missing one.
      const notFound = new HttpError(404, `Video ${body.videoKey} not found: upload it first (POST /api/uploads)`);
      if (key.organizationId !== horse.organization.id) throw notFound;
      const head = await storage.head(body.videoKey);
      if (!head) throw notFound;
      if (head.size > config.UPLOAD_MAX_BYTES) throw new HttpError(413, `The video is larger than the ${Math.round(config.UPLOAD_MAX_BYTES / 1048576)} MB limit`);
      if (head.size === 0 || !looksLikeVideo(await storage.readPrefix(body.videoKey, 512))) {
        throw new HttpError(422, 'The uploaded file is not a video (MP4, MOV, WebM, MKV, AVI or MPEG expected)');
      }

      const id = randomUUID();
      const credits = ANALYSIS_CREDIT_COST[body.type];
      await em.transactional(async (tx) => {
        tx.create(Analysis, {
          id,
          organization: horse.organization,
          horse: tx.getReference(Horse, horse.id),
          userId: user.id,
          type: body.type,
          status: 'pending',
          stage: 'queued',
          credits,
          videoKey: body.videoKey,
          workflowId: analysisWorkflowId(id),
        } as never);
        await tx.flush();
        await reserveCredits(tx, user.id, credits, analysisReservationKey(id), `${body.type} analysis ${id}`);
      });

      try {
        const client = await deps.temporal.client();
        await startAnalysisWorkflow(client, { id, userId: user.id, horseId: horse.id, type: body.type });
      } catch (err) {
        // No orphan: the row cannot stay pending without a workflow; give the credits back now.
        req.log.error({ err, analysisId: id }, 'could not start the analysis workflow');
        await closeAnalysis(em.fork(), id, { status: 'failed', errorType: 'ServiceUnavailable', error: 'the analysis could not be started' });
        throw new HttpError(503, 'The analysis service is unavailable right now; your credits were not charged. Try again later.');
      }
      return { id, status: 'pending' as const, workflowId: analysisWorkflowId(id), credits };
    },
  );

  r.get('/analyses/:id', { summary: 'An analysis: status, live progress while running, the result when done', params: IdParams, response: AnalysisView, errors: [404] }, async ({ params, em, user }) => {
    const row = await loadOwnedAnalysis(em, user, params.id);
    let live: AnalysisProgress | null = null;
    if (!isTerminal(row.status)) {
      try {
        const client = await withTimeout(deps.temporal.client(), 2000);
        live = await withTimeout(client.workflow.getHandle(row.workflowId).query(progressQuery), 3000);
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
      const [rows, total] = await em.findAndCount(Analysis, { horse: horse.id }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: query.limit, offset: (query.page - 1) * query.limit });
      return { items: rows.map((a) => view(a)), total, page: query.page, limit: query.limit };
    },
  );

  r.post(
    '/analyses/:id/cancel',
    {
      summary: 'Cancel a pending or running analysis (credits are released)',
      params: IdParams,
      body: z.strictObject({ reason: z.string().max(500).optional() }).optional(),
      status: 202,
      response: z.object({ id: z.uuid(), status: z.enum(['canceling', 'canceled']) }),
      errors: [404, 409],
    },
    async ({ params, body, em, user }) => {
      const row = await loadOwnedAnalysis(em, user, params.id);
      if (isTerminal(row.status)) throw new HttpError(409, `Analysis ${row.id} is already ${row.status}`);
      const client = await deps.temporal.client();
      try {
        await client.workflow.getHandle(row.workflowId).signal(cancelSignal, { reason: body?.reason });
        return { id: row.id, status: 'canceling' as const };
      } catch (err) {
        if ((err as Error).name !== 'WorkflowNotFoundError') throw err;
        // No running workflow (never started, or gone): settle the row here.
        const closed = await closeAnalysis(em.fork(), row.id, { status: 'canceled', errorType: 'Canceled', error: body?.reason ?? 'canceled by the user' });
        if (!closed.changed) throw new HttpError(409, `Analysis ${row.id} is already ${closed.status}`);
        return { id: row.id, status: 'canceled' as const };
      }
    },
  );

  return router;
}
