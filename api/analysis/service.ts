import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppDeps } from '../deps';
import type { Logger } from '../../adapters/logger';
import type { AuthUser } from '../accounts/types';
import { HttpError } from '../http/errors';
import { memberOrgIds } from '../organizations/access';
import { loadOwnedHorse } from '../horses/access';
import { assertVerified } from '../accounts/verified';
import { analysisReservationKey, closeAnalysis } from '../../entities';
import { HorseNotInOrganization, IdempotencyKeyTaken, reserveAnalysisStart } from '../../entities/analysis-start';
import type { ObjectPeek } from '../../adapters/storage/port';
import { SNIFF_BYTES, looksLikeVideo } from '../../adapters/media/sniff';
import { ANALYSIS_CREDIT_COST, parseVideoKey, type AnalysisType } from '../../domain/analysis';
import { analysisWorkflowId } from '../../workflows/ids';
import { startAnalysisWorkflow } from '../../workflows/analysis/client';
import { priorAnalysis, releaseKey, requestHashOf, type StartedAnalysis } from './idempotency';

/**
 * Starting an analysis, the application layer of POST /api/analyses:
 *   1. an earlier request with the same Idempotency-Key answers what it created;
 *   2. the caller, the horse and the uploaded video are checked (nothing written yet; usually
 *      the horse's organization is checked by the statement of step 3, see quickCheck);
 *   3. one transaction: start limits, the Analysis row, the key claim, the credit reservation
 *      (entities/analysis-start.ts: the locks, then one statement for all of it);
 *   4. the analyzeVideo workflow starts (workflows/analysis/client.ts); if Temporal refuses,
 *      compensation closes the row (credits released) and frees the key, and the answer is 503.
 */
export type AnalysisService = ReturnType<typeof createAnalysisService>;

export interface StartAnalysisRequest {
  horseId: string;
  type: AnalysisType;
  videoKey: string;
}

export const analysisUnavailable = (what: string) => new HttpError(503, `The analysis service is unavailable right now; ${what} Try again later.`);

export function createAnalysisService(deps: Pick<AppDeps, 'config' | 'temporal' | 'storage' | 'logger'>) {
  const { storage, config } = deps;
  const startLimits = {
    perUserPerHour: config.ANALYSIS_STARTS_PER_USER_PER_HOUR,
    perOrganizationPerHour: config.ANALYSIS_STARTS_PER_ORG_PER_HOUR,
    organizationMonthlySpendCapUsd: config.AI_ORG_MONTHLY_SPEND_CAP_USD,
  };

  /**
   * The horse must be the caller's and the video an upload of the horse's organization that
   * looks like a video. Every refusal of a start comes from here, in this order (horse, key,
   * organizations, video): the quick path below only ever hands a refusal to this function.
   */
  async function checkRequest(em: EntityManager, user: AuthUser, body: StartAnalysisRequest): Promise<{ horseId: string; organizationId: string }> {
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
      throw new HttpError(422, "Invalid body.videoKey: the video belongs to another organization than the horse; upload it to the horse's organization (POST /api/uploads with organizationId)", [
        { location: 'body', field: 'videoKey', message: 'belongs to another organization than the horse' },
      ]);
    }
    const peek = await storage.peek(body.videoKey, SNIFF_BYTES);
    const refusal = videoRefusal(peek);
    if (refusal) throw refusal === 'missing' ? notFound : refusal;
    return { horseId: horse.id, organizationId: horse.organization.id };
  }

  /** What is wrong with the stored upload, if anything ('missing': the caller words the 404). */
  function videoRefusal(peek: ObjectPeek | null): HttpError | 'missing' | null {
    if (!peek) return 'missing';
    if (peek.size > config.UPLOAD_MAX_BYTES) return new HttpError(413, `The video is larger than the ${Math.round(config.UPLOAD_MAX_BYTES / 1048576)} MB limit`);
    if (peek.size === 0 || !looksLikeVideo(peek.prefix)) return new HttpError(422, 'The uploaded file is not a video (MP4, MOV, WebM, MKV, AVI or MPEG expected)');
    return null;
  }

  /**
   * The usual start, checked without loading the horse: the video key names an organization
   * of the caller's and the stored object is a video within the size limit; the start
   * statement then requires the horse to be in that organization (HorseNotInOrganization
   * otherwise, nothing written). Together that is exactly what checkRequest accepts (the
   * horse is the caller's, in the video's organization), one round trip and the ORM's entity
   * load fewer (bench/api-latency.ts --profile). null: something is off, and checkRequest
   * says what, in its order.
   */
  async function quickCheck(user: AuthUser, body: StartAnalysisRequest): Promise<{ horseId: string; organizationId: string } | null> {
    assertVerified(user, 'spend analysis credits');
    const key = parseVideoKey(body.videoKey);
    if (!key || !memberOrgIds(user).includes(key.organizationId)) return null;
    if (videoRefusal(await storage.peek(body.videoKey, SNIFF_BYTES))) return null;
    return { horseId: body.horseId, organizationId: key.organizationId };
  }

  /** Start limits, the row, the key claim and the credit reservation: all or nothing. */
  async function reserve(em: EntityManager, user: AuthUser, horse: { horseId: string; organizationId: string }, body: StartAnalysisRequest, id: string, idempotency: { key: string; requestHash: string } | null) {
    const credits = ANALYSIS_CREDIT_COST[body.type];
    await reserveAnalysisStart(em, {
      id,
      userId: user.id,
      organizationId: horse.organizationId,
      horseId: horse.horseId,
      type: body.type,
      credits,
      videoKey: body.videoKey,
      workflowId: analysisWorkflowId(id),
      reservationKey: analysisReservationKey(id),
      reason: `${body.type} analysis ${id}`,
      idempotency,
      limits: startLimits,
    });
    return credits;
  }

  /** No orphan: a row cannot stay pending without a workflow, so its credits go back now. */
  async function compensate(em: EntityManager, user: AuthUser, id: string, idemKey: string | null) {
    await closeAnalysis(em.fork(), id, { status: 'failed', errorType: 'ServiceUnavailable', error: 'the analysis could not be started', closedBy: 'api' });
    if (idemKey) await releaseKey(em, { userId: user.id, key: idemKey, analysisId: id });
  }

  return {
    /**
     * Starts an analysis, or (same Idempotency-Key) answers the one an earlier request
     * started: `replayed` says which. AnalysisLimitReached (429/402 with Retry-After) is
     * thrown as is for the router to map. `log` is the request's logger (its request id).
     */
    async start(em: EntityManager, user: AuthUser, body: StartAnalysisRequest, idemKey: string | null, log: Logger = deps.logger): Promise<{ analysis: StartedAnalysis; replayed: boolean }> {
      const requestHash = requestHashOf(body);
      if (idemKey) {
        const prior = await priorAnalysis(em, user.id, idemKey, requestHash);
        if (prior) return { analysis: prior, replayed: true };
      }
      const horse = (await quickCheck(user, body)) ?? (await checkRequest(em, user, body));

      const id = randomUUID();
      let credits: number;
      try {
        credits = await reserve(em, user, horse, body, id, idemKey ? { key: idemKey, requestHash } : null);
      } catch (err) {
        if (err instanceof HorseNotInOrganization) {
          // Unknown horse, or one of another organization: checkRequest throws the answer.
          await checkRequest(em, user, body);
          // Horses do not move between organizations through the API; a direct change raced us.
          throw new HttpError(409, `Horse ${body.horseId} changed while the analysis was starting; nothing was reserved, retry`);
        }
        if (!(err instanceof IdempotencyKeyTaken)) throw err;
        const prior = await priorAnalysis(em, user.id, idemKey!, requestHash);
        if (prior) return { analysis: prior, replayed: true };
        throw new HttpError(409, 'A request with this Idempotency-Key is still being processed; retry in a moment');
      }

      try {
        const client = await deps.temporal.client();
        await startAnalysisWorkflow(client, { id, userId: user.id, horseId: horse.horseId, type: body.type });
      } catch (err) {
        log.error({ err, analysisId: id }, 'could not start the analysis workflow');
        await compensate(em, user, id, idemKey);
        throw analysisUnavailable('your credits were not charged.');
      }
      return { analysis: { id, status: 'pending', workflowId: analysisWorkflowId(id), credits }, replayed: false };
    },
  };
}
