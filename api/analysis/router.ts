import { createHash, randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import type { MountContext } from '../http/mount';
import { text } from '../http/input-policy';
import { routeBuilder, IdParams, PaginationQuery, paginated } from '../http/route';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { loadOwnedHorse } from '../horses/access';
import type { AuthUser } from '../accounts/types';
import { Analysis, AnalysisRequest, Horse, analysisReservationKey, closeAnalysis } from '../../entities';
import { reserveCredits } from '../../entities/credit-ledger';
import { assertVerified } from '../accounts/verified';
import { AnalysisLimitReached, assertAnalysisStartAllowed } from '../../entities/analysis-limits';
import { SNIFF_BYTES, looksLikeVideo } from '../../adapters/media/sniff';
import {
  ANALYSIS_CREDIT_COST,
  ANALYSIS_STATUSES,
  ANALYSIS_TYPES,
  IDEMPOTENCY_KEY_RE,
  IDEMPOTENCY_WINDOW_HOURS,
  STAGE_PERCENT,
  isTerminal,
  parseVideoKey,
  type AnalysisStage,
} from '../../domain/analysis';
import { analysisWorkflowId } from '../../workflows/ids';
import { cancelAnalysisWorkflow, queryAnalysisProgress, startAnalysisWorkflow } from '../../workflows/analysis/client';
import type { AnalysisProgress } from '../../workflows/analysis/messages';

export const CreateAnalysisBody = z.strictObject({
  horseId: z.uuid({ message: 'must be a UUID' }),
  type: z.enum(ANALYSIS_TYPES, { message: `must be one of ${ANALYSIS_TYPES.join(', ')}` }),
  videoKey: text({ max: 500 }),
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

/** A retried POST with the same Idempotency-Key found the analysis the first one created. */
class IdempotentReplay extends Error {}

/** sha256 of what a POST /api/analyses asks for: the same key with another request is a 409. */
const requestHashOf = (body: z.output<typeof CreateAnalysisBody>) =>
  createHash('sha256').update(JSON.stringify([body.horseId, body.type, body.videoKey])).digest('hex');

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

const unavailable = (what: string) => new HttpError(503, `The analysis service is unavailable right now; ${what} Try again later.`);

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);

/** AI video analyses: /api/analyses, plus /api/horses/:id/analyses. Mounted at /api. */
export function createAnalysesRouter(deps: AppDeps, ctx: MountContext) {
  const router = Router();
  const r = routeBuilder({ router, registry: ctx.registry, basePath: '/api', tag: 'analyses', authenticate: ctx.authenticate });
  const { storage, config } = deps;
  const startLimits = {
    perUserPerHour: config.ANALYSIS_STARTS_PER_USER_PER_HOUR,
    perOrganizationPerHour: config.ANALYSIS_STARTS_PER_ORG_PER_HOUR,
    organizationMonthlySpendCapUsd: config.AI_ORG_MONTHLY_SPEND_CAP_USD,
  };

  /** The answer to a retried POST: the analysis the first request created (same id). */
  async function replay(em: EntityManager, userId: string, key: string, requestHash: string, res: { setHeader(n: string, v: string): void }) {
    const prior = await em.fork().findOne(AnalysisRequest, { userId, key, expiresAt: { $gt: new Date() } }, { populate: ['analysis'] });
    if (!prior) return null;
    if (prior.requestHash !== requestHash) {
      throw new HttpError(409, 'This Idempotency-Key was already used for another request (different horse, type or video); use a new key for a new analysis');
    }
    res.setHeader('idempotent-replayed', 'true');
    const a = prior.analysis;
    return { id: a.id, status: a.status, workflowId: a.workflowId, credits: a.credits };
  }

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
      const idemKey = idempotencyKeyOf(req);
      const requestHash = requestHashOf(body);
      if (idemKey) {
        const prior = await replay(em, user.id, idemKey, requestHash, res);
        if (prior) return prior;
      }
      // Free credits are for proven addresses: throwaway accounts must not burn AI spend.
      assertVerified(user, 'spend analysis credits');
      const horse = await loadOwnedHorse(em, user, body.horseId);
      const key = parseVideoKey(body.videoKey);
      if (!key) {
        throw new HttpError(400, 'Invalid body.videoKey: use the videoKey returned by POST /api/uploads', [
          { location: 'body', field: 'videoKey', message: 'is not a video key issued by POST /api/uploads' },
        ]);
      }
      // Another organization's key answers exactly like a missing one, unless the caller is a
      // member of both: then the honest answer is that video and horse do not belong together.
      const notFound = new HttpError(404, `Video ${body.videoKey} not found: upload it first (POST /api/uploads)`);
      if (key.organizationId !== horse.organization.id) {
        if (!memberOrgIds(user).includes(key.organizationId)) throw notFound;
        throw new HttpError(400, "Invalid body.videoKey: the video belongs to another organization than the horse; upload it to the horse's organization (POST /api/uploads with organizationId)", [
          { location: 'body', field: 'videoKey', message: 'belongs to another organization than the horse' },
        ]);
      }
      const head = await storage.head(body.videoKey);
      if (!head) throw notFound;
      if (head.size > config.UPLOAD_MAX_BYTES) throw new HttpError(413, `The video is larger than the ${Math.round(config.UPLOAD_MAX_BYTES / 1048576)} MB limit`);
      if (head.size === 0 || !looksLikeVideo(await storage.readPrefix(body.videoKey, SNIFF_BYTES))) {
        throw new HttpError(422, 'The uploaded file is not a video (MP4, MOV, WebM, MKV, AVI or MPEG expected)');
      }

      const id = randomUUID();
      const credits = ANALYSIS_CREDIT_COST[body.type];
      try {
        await em.transactional(async (tx) => {
          await assertAnalysisStartAllowed(tx, { userId: user.id, organizationId: horse.organization.id, limits: startLimits });
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
          if (idemKey) {
            // Claims the key (or takes over an expired claim). A concurrent request with the same
            // key waits here for the first one's transaction, then finds its claim and replays it.
            const claimed = await tx.getConnection().execute(
              `insert into analysis_requests (id, created_at, updated_at, user_id, key, request_hash, analysis_id, expires_at)
               values (?, now(), now(), ?, ?, ?, ?, now() + make_interval(hours => ?))
               on conflict (user_id, key) do update
                 set request_hash = excluded.request_hash, analysis_id = excluded.analysis_id, expires_at = excluded.expires_at, created_at = now(), updated_at = now()
                 where analysis_requests.expires_at <= now()
               returning id`,
              [randomUUID(), user.id, idemKey, requestHash, id, IDEMPOTENCY_WINDOW_HOURS],
              'all',
              tx.getTransactionContext(),
            );
            if (claimed.length === 0) throw new IdempotentReplay();
          }
          await reserveCredits(tx, user.id, credits, analysisReservationKey(id), `${body.type} analysis ${id}`);
        });
      } catch (err) {
        if (err instanceof AnalysisLimitReached) {
          res.setHeader('Retry-After', String(err.retryAfterSeconds));
          throw new HttpError(err.statusCode, err.message, err.details);
        }
        if (!(err instanceof IdempotentReplay)) throw err;
        const prior = await replay(em, user.id, idemKey!, requestHash, res);
        if (prior) return prior;
        throw new HttpError(409, 'A request with this Idempotency-Key is still being processed; retry in a moment');
      }

      try {
        const client = await deps.temporal.client();
        await startAnalysisWorkflow(client, { id, userId: user.id, horseId: horse.id, type: body.type });
      } catch (err) {
        // No orphan: the row cannot stay pending without a workflow; give the credits back now.
        req.log.error({ err, analysisId: id }, 'could not start the analysis workflow');
        await closeAnalysis(em.fork(), id, { status: 'failed', errorType: 'ServiceUnavailable', error: 'the analysis could not be started', closedBy: 'api' });
        // The client was told nothing started: its retry with the same key must start afresh.
        if (idemKey) await em.fork().nativeDelete(AnalysisRequest, { userId: user.id, key: idemKey, analysis: id });
        throw unavailable('your credits were not charged.');
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
      const [rows, total] = await em.findAndCount(Analysis, { horse: horse.id }, { orderBy: { createdAt: 'desc', id: 'desc' }, limit: query.limit, offset: (query.page - 1) * query.limit });
      return { items: rows.map((a) => view(a)), total, page: query.page, limit: query.limit };
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
          throw unavailable('the analysis was not canceled and keeps running.');
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
