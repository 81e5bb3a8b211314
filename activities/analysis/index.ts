import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { LockMode } from '@mikro-orm/core';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import { Analysis, AnalysisCacheEntry, analysisReservationKey, closeAnalysis, countAnsweredAnalysis, providerAnswerStore, type ClosedAnalysis, type ProviderAnswer, type ProviderAnswerStore } from '../../entities';
import { settleReservation } from '../../entities/credit-ledger';
import { aiFailureText, invalidAnswerText } from './ai-failure-text';
import type { StoragePort } from '../../adapters/storage/port';
import { AiProviderError, type AiClients, type VisionClient } from '../../adapters/ai/types';
import { InvalidVideoError, createMedia, mediaOptionsFrom, sha256File, type Media } from '../../adapters/media/ffmpeg';
import { ErrorType } from '../../domain/errors';
import { parseDuration } from '../../domain/time';
import {
  AnalysisResultSchema,
  MODEL_ANSWER_JSON_SCHEMA,
  PROMPT_VERSION,
  buildPrompt,
  cacheKeyOf,
  analysisPrefix,
  analysisVideoKey,
  estimateCostUsd,
  frameTimestamps,
  framesPrefix,
  isTerminal,
  parseModelAnswer,
  parseVideoKey,
  type AnalysisResult,
  type AnalysisType,
} from '../../domain/analysis';

export interface AnalysisActivityDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  storage: StoragePort;
  ai: AiClients;
  /** The worker's media adapter (one per worker: its semaphore bounds ffmpeg processes); built from config when absent. */
  media?: Media;
  /**
   * Where paid-for provider answers are kept and their usage counted, once per analysis and
   * provider; default: Postgres (analysis_provider_answers, the analysis row, the AI usage totals).
   */
  answers?: ProviderAnswerStore;
  /** Pauses between the in-attempt retries of saving a provider answer (ms); default 0.25, 0.5, 1, 2, 4 s. */
  answerSaveRetryDelaysMs?: number[];
}

export interface PreparedVideo {
  analysisId: string;
  /** The organization owning the row (the failure path cleans its storage even if the row is gone by then). */
  organizationId?: string;
  type: AnalysisType;
  sha256: string;
  durationSec: number;
  width: number;
  height: number;
}

/** What a provider (or the cache) produced, validated, ready to save. */
export interface AiOutcome {
  provider: 'anthropic' | 'openai';
  model: string;
  result: AnalysisResult;
  inputTokens: number;
  outputTokens: number;
  estimatedCostUsd: number | null;
  latencyMs: number;
  sandbox: boolean;
}

/**
 * How the row ended, as the workflow sees it: no horse name (user-typed text stays out of
 * workflow histories; the notice activity reads it from the row).
 */
export type FinishedAnalysis = Omit<ClosedAnalysis, 'horseName'>;

const finished = <T extends ClosedAnalysis>({ horseName: _horseName, ...rest }: T): Omit<T, 'horseName'> => rest;

/** The activity context when running as an activity; null when called directly (tests, scripts). */
function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** Heartbeats every second while `work` runs, so a dead worker is noticed within the heartbeat timeout. */
async function withHeartbeats<T>(work: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = activityContext();
  if (!ctx) return work();
  ctx.heartbeat(details?.());
  const timer = setInterval(() => ctx.heartbeat(details?.()), 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

// One scratch root per OS user: a shared /tmp/horse-tempo-analysis made by another user (root
// on the same machine) is not writable, and every analysis then failed with EACCES.
const scratchRoot = join(tmpdir(), `horse-tempo-analysis-${process.getuid?.() ?? 'user'}`);
const workDir = (analysisId: string) => join(scratchRoot, analysisId);
/** One folder per activity attempt: an attempt that timed out but still runs never shares files with its retry. */
const attemptDir = (analysisId: string) => join(workDir(analysisId), randomUUID());

/** The analysis' own copy of its video (see analysisVideoKey): hash, probe and frames read only this. */
function videoCopyKey(row: Analysis): string {
  return analysisVideoKey(row.organization.id, row.id, parseVideoKey(row.videoKey)?.ext ?? 'bin');
}

export function createAnalysisActivities(deps: AnalysisActivityDeps) {
  const { orm, storage, ai, config, logger } = deps;
  const media = deps.media ?? createMedia(mediaOptionsFrom(config));
  const answers = deps.answers ?? providerAnswerStore(orm.em);
  const saveRetryDelaysMs = deps.answerSaveRetryDelaysMs ?? [250, 500, 1000, 2000, 4000];

  async function loadRow(analysisId: string) {
    const em = orm.em.fork();
    const row = await em.findOne(Analysis, { id: analysisId }, { populate: ['horse'] });
    if (!row) throw ApplicationFailure.nonRetryable(`analysis ${analysisId} does not exist`, ErrorType.NotFound);
    return { em, row };
  }

  /**
   * Makes the analysis-owned copy of the uploaded video (once; server-side with S3, a hard
   * link with the local driver). No upload URL can write that key, so what is hashed is what
   * frames are taken from, even if someone PUT to the original key again.
   */
  async function ensureVideoCopy(row: Analysis): Promise<string> {
    const copyKey = videoCopyKey(row);
    if (await storage.head(copyKey)) return copyKey;
    if (!(await storage.head(row.videoKey))) throw ApplicationFailure.nonRetryable(`Invalid video: the uploaded video ${row.videoKey} no longer exists`, ErrorType.InvalidVideo);
    await storage.copyObject(row.videoKey, copyKey);
    return copyKey;
  }

  /**
   * A local, seekable file of `key`, downloaded once for this attempt (the file itself with
   * the local driver). The download heartbeats and stops on cancellation.
   */
  async function localVideo(key: string, dir: string): Promise<string> {
    if (storage.localPath) return storage.localPath(key);
    const path = join(dir, 'video');
    let bytes = 0;
    await withHeartbeats(
      () => storage.downloadToFile(key, path, { signal: activityContext()?.cancellationSignal, onProgress: (b) => (bytes = b) }),
      () => ({ downloadedBytes: bytes }),
    );
    return path;
  }

  /**
   * Saves a paid-for answer with its usage. A failed save is retried here, within the attempt,
   * a few times before giving up: failing the attempt would make its retry call (and pay) the
   * provider again. The store's unique key (analysis + provider) means a save whose commit
   * succeeded unseen counts nothing the second time.
   */
  async function keepAnswer(analysisId: string, received: ProviderAnswer): Promise<ProviderAnswer> {
    const signal = activityContext()?.cancellationSignal;
    for (let i = 0; ; i++) {
      try {
        return (await answers.save(analysisId, received)).answer;
      } catch (err) {
        if (i >= saveRetryDelaysMs.length) throw new Error(`saving the ${received.provider} answer of analysis ${analysisId} failed ${i + 1} times: ${(err as Error).message}`, { cause: err });
        logger.warn({ analysisId, provider: received.provider, saveAttempt: i + 1, error: (err as Error).message }, 'saving a paid-for AI answer failed; retrying before the provider would be called again');
        await sleep(saveRetryDelaysMs[i], undefined, { signal });
      }
    }
  }

  /** The provider's answer for this analysis: the one an earlier attempt paid for and stored, else a new call, stored with its usage. */
  async function providerAnswer(client: VisionClient, model: string, input: { analysisId: string; type: AnalysisType; frameKeys: string[] }): Promise<ProviderAnswer> {
    const stored = await answers.find(input.analysisId, client.provider);
    if (stored) {
      logger.info({ analysisId: input.analysisId, provider: client.provider }, 'AI answer of an earlier attempt reused (not called or counted again)');
      return stored;
    }
    const ctx = activityContext();
    const images = await Promise.all(input.frameKeys.map((k) => storage.getObject(k)));
    const prompt = buildPrompt(input.type, images.length);
    const attempt = ctx?.info.attempt ?? 1;
    let response;
    try {
      response = await withHeartbeats(
        () =>
          client.complete({
            model,
            system: prompt.system,
            prompt: prompt.user,
            images,
            jsonSchema: MODEL_ANSWER_JSON_SCHEMA as unknown as Record<string, unknown>,
            timeoutMs: config.AI_TIMEOUT_SECONDS * 1000,
            signal: ctx?.cancellationSignal,
            analysisId: input.analysisId,
          }),
        () => ({ provider: client.provider, attempt }),
      );
    } catch (err) {
      const e = err instanceof AiProviderError ? err : new AiProviderError(client.provider, 'server', (err as Error).message);
      // The provider's own message stays in this log; the analysis stores our words (ai-failure-text.ts).
      logger.warn({ analysisId: input.analysisId, provider: e.provider, kind: e.kind, status: e.status, attempt, providerMessage: e.message }, 'AI provider call failed');
      throw ApplicationFailure.create({
        message: aiFailureText(e.provider, e.kind, e.status),
        type: ErrorType.AiProviderFailed,
        nonRetryable: !e.retryable,
        details: [{ provider: e.provider, kind: e.kind, status: e.status ?? null }],
      });
    }
    // The provider answered: we pay for it whether or not the answer is usable, so it is stored
    // and its usage counts now (on the row, toward the organization's spend cap, and in the
    // metrics) — before validation, so an invalid answer is not free.
    const answeredModel = response.model || model;
    return withHeartbeats(
      () =>
        keepAnswer(input.analysisId, {
          provider: client.provider,
          model: answeredModel,
          text: response.text,
          inputTokens: response.inputTokens,
          outputTokens: response.outputTokens,
          estimatedCostUsd: estimateCostUsd(answeredModel, response.inputTokens, response.outputTokens),
          latencyMs: response.latencyMs,
          sandbox: response.sandbox,
        }),
      () => ({ provider: client.provider, attempt, saving: true }),
    );
  }

  async function runProvider(client: VisionClient, model: string, input: { analysisId: string; type: AnalysisType; frameKeys: string[] }): Promise<AiOutcome> {
    const answer = await providerAnswer(client, model, input);
    const parsed = parseModelAnswer(answer.text);
    if (!parsed.ok) {
      logger.warn({ analysisId: input.analysisId, provider: client.provider, error: parsed.error }, 'AI answer failed validation');
      // Never saved as a result; the workflow treats it as this provider's failure and tries the other one.
      throw ApplicationFailure.nonRetryable(invalidAnswerText(client.provider), ErrorType.AiOutputInvalid);
    }
    return {
      provider: client.provider,
      model: answer.model,
      result: { ...parsed.value, aiModel: answer.model, processingTime: answer.latencyMs },
      inputTokens: answer.inputTokens,
      outputTokens: answer.outputTokens,
      estimatedCostUsd: answer.estimatedCostUsd,
      latencyMs: answer.latencyMs,
      sandbox: ai.sandbox || answer.sandbox,
    };
  }

  return {
    /**
     * Marks the row running (only from pending: a canceled row stays canceled), copies the
     * upload to the analysis' own key, then hashes and probes that one local copy.
     * Not a video / empty / too long: non-retryable InvalidVideo.
     */
    async prepareVideo(input: { analysisId: string }): Promise<PreparedVideo> {
      const { em, row } = await loadRow(input.analysisId);
      const closed = (status: string) => ApplicationFailure.nonRetryable(`analysis ${row.id} is already ${status}`, ErrorType.Conflict);
      if (isTerminal(row.status)) throw closed(row.status);
      const claimed = await em.nativeUpdate(Analysis, { id: row.id, status: 'pending' }, { status: 'running', stage: 'probing', startedAt: new Date() });
      if (claimed === 0) {
        // Not pending any more: a retry of this activity (running) goes on; anything else was closed meanwhile.
        const now = await em.fork().findOne(Analysis, { id: row.id }, { fields: ['status'] });
        if (!now) throw ApplicationFailure.nonRetryable(`analysis ${row.id} does not exist`, ErrorType.NotFound);
        if (now.status !== 'running') throw closed(now.status);
      }
      const dir = attemptDir(row.id);
      try {
        const copyKey = await ensureVideoCopy(row);
        const path = await localVideo(copyKey, dir);
        // The probe enforces the caps (container, codec, size, duration, frame count).
        const [sha256, info] = await withHeartbeats(async () => {
          const info = await media.probe(path, activityContext()?.cancellationSignal);
          return [await sha256File(path), info] as const;
        });
        const saved = await em.nativeUpdate(Analysis, { id: row.id, status: 'running' }, { videoSha256: sha256, videoDurationSec: info.durationSec });
        if (saved === 0) throw closed('closed');
        return {
          analysisId: row.id,
          organizationId: row.organization.id,
          type: row.type,
          sha256,
          durationSec: info.durationSec,
          width: info.width,
          height: info.height,
        };
      } catch (err) {
        if (err instanceof InvalidVideoError) throw ApplicationFailure.nonRetryable(`Invalid video: ${err.message}`, ErrorType.InvalidVideo);
        throw err;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    /** A validated answer for the same video content, type and prompt version that has not expired. */
    async lookupCachedResult(input: { analysisId: string; sha256: string; type: AnalysisType }): Promise<AiOutcome | null> {
      const em = orm.em.fork();
      // The organization comes from the row, not from the workflow: the cache never answers across tenants.
      const row = await em.findOne(Analysis, { id: input.analysisId }, { fields: ['organization'] });
      if (!row) return null;
      const entry = await em.findOne(AnalysisCacheEntry, {
        cacheKey: cacheKeyOf(row.organization.id, input.sha256, input.type, PROMPT_VERSION),
        sandbox: ai.sandbox,
        expiresAt: { $gt: new Date() },
      });
      if (!entry) return null;
      const result = AnalysisResultSchema.safeParse(entry.result);
      if (!result.success) return null;
      return {
        provider: entry.provider as AiOutcome['provider'],
        model: entry.model,
        result: result.data,
        inputTokens: 0,
        outputTokens: 0,
        estimatedCostUsd: 0,
        latencyMs: 0,
        sandbox: entry.sandbox,
      };
    },

    /**
     * Evenly spaced JPEG frames (input seeking, MEDIA_FRAME_SEEK, ≤ 1024 px) of the analysis' own video copy,
     * stored next to the analysis. Heartbeats throughout; a cancel stops ffmpeg and no frame
     * is uploaded after it (the workflow waits for this activity before cleaning up).
     */
    async extractFrames(input: { analysisId: string; count: number }): Promise<{ frameKeys: string[] }> {
      const { row } = await loadRow(input.analysisId);
      const ctx = activityContext();
      const dir = attemptDir(row.id);
      let done = 0;
      try {
        const copyKey = await ensureVideoCopy(row);
        const path = await localVideo(copyKey, dir);
        const frames = await withHeartbeats(
          async () => {
            // Probed again: the picture size sizes the process groups, and the caps hold for the very file decoded.
            const info = await media.probe(path, ctx?.cancellationSignal);
            return media.extractFrames(path, frameTimestamps(info.durationSec, input.count), {
              info,
              outDir: join(dir, 'frames'),
              signal: ctx?.cancellationSignal,
              onFrame: (n) => (done = n),
            });
          },
          () => ({ frames: done }),
        );
        ctx?.cancellationSignal.throwIfAborted();
        const prefix = framesPrefix(row.organization.id, row.id);
        const frameKeys = frames.map((_, i) => `${prefix}${String(i).padStart(3, '0')}.jpg`);
        await withHeartbeats(
          () => Promise.all(frames.map((f, i) => storage.putObject(frameKeys[i], f, 'image/jpeg'))),
          () => ({ frames: done, uploading: true }),
        );
        return { frameKeys };
      } catch (err) {
        if (err instanceof InvalidVideoError) throw ApplicationFailure.nonRetryable(`Invalid video: ${err.message}`, ErrorType.InvalidVideo);
        throw err;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    /** Claude vision (primary). Retryable failures are retried by the activity retry policy. */
    async analyzeWithClaude(input: { analysisId: string; type: AnalysisType; frameKeys: string[] }): Promise<AiOutcome> {
      return runProvider(ai.primary, config.AI_MODEL_PRIMARY, input);
    },

    /** OpenAI vision (fallback). */
    async analyzeWithOpenAI(input: { analysisId: string; type: AnalysisType; frameKeys: string[] }): Promise<AiOutcome> {
      return runProvider(ai.fallback, config.AI_MODEL_FALLBACK, input);
    },

    /**
     * Saves the result, commits the credits and fills the cache, in one transaction.
     * Idempotent: a retry after a crash finds the row completed and changes nothing.
     * Tokens and cost are already on the row (every provider answer added its own, the
     * invalid ones included); a cache hit leaves them at 0.
     */
    async completeAnalysis(input: { analysisId: string; outcome: AiOutcome; fallbackUsed: boolean; cacheHit: boolean; organizationId?: string }): Promise<FinishedAnalysis & { globalScore: number }> {
      const result = AnalysisResultSchema.parse(input.outcome.result);
      const em = orm.em.fork();
      const out = await em.transactional(async (tx) => {
        const row = await tx.findOne(Analysis, { id: input.analysisId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!row) throw ApplicationFailure.nonRetryable(`analysis ${input.analysisId} does not exist`, ErrorType.NotFound);
        await tx.populate(row, ['horse']);
        const base = { found: true, horseName: row.horse.name, type: row.type, credits: row.credits, globalScore: result.globalScore, userId: row.userId, organizationId: row.organization.id };
        if (row.status === 'completed') return { ...base, changed: false, status: row.status, closedBy: row.closedBy ?? 'workflow' };
        if (isTerminal(row.status)) throw ApplicationFailure.nonRetryable(`analysis ${row.id} is already ${row.status}`, ErrorType.Conflict);
        const o = input.outcome;
        Object.assign(row, {
          status: 'completed',
          stage: 'done',
          result,
          provider: o.provider,
          model: o.model,
          fallbackUsed: input.fallbackUsed,
          cacheHit: input.cacheHit,
          sandbox: o.sandbox,
          inputTokens: row.inputTokens ?? 0,
          outputTokens: row.outputTokens ?? 0,
          estimatedCostUsd: row.estimatedCostUsd ?? 0,
          latencyMs: o.latencyMs,
          completedAt: new Date(),
          error: null,
          errorType: null,
          closedBy: 'workflow',
        });
        await settleReservation(tx, row.userId, row.credits, analysisReservationKey(row.id), 'commit', `analysis ${row.id} (${row.type}) completed`);
        if (!input.cacheHit) await countAnsweredAnalysis(tx, o.provider, o.model, input.fallbackUsed);
        if (!input.cacheHit && row.videoSha256) {
          const cacheKey = cacheKeyOf(row.organization.id, row.videoSha256, row.type, PROMPT_VERSION);
          const expiresAt = new Date(Date.now() + parseDuration(config.AI_CACHE_TTL));
          await tx.upsert(AnalysisCacheEntry, { cacheKey, sandbox: o.sandbox, result, provider: o.provider, model: o.model, expiresAt }, {
            onConflictFields: ['cacheKey'],
            onConflictAction: 'merge',
            onConflictExcludeFields: ['id', 'createdAt'],
          });
        }
        await tx.flush();
        return { ...base, changed: true, status: 'completed', closedBy: 'workflow' as const };
      });
      await cleanup(input.analysisId, out.organizationId ?? input.organizationId);
      return finished(out);
    },

    /**
     * Marks the analysis failed or canceled and releases its credits; idempotent. A row that
     * is gone still gets its reservation released (by key) and its storage cleaned when the
     * workflow knows the organization.
     */
    async failAnalysis(input: { analysisId: string; status: 'failed' | 'canceled'; errorType: string; error: string; organizationId?: string; charge?: boolean }): Promise<FinishedAnalysis> {
      const em = orm.em.fork();
      const out = await closeAnalysis(em, input.analysisId, { status: input.status, errorType: input.errorType, error: input.error, closedBy: 'workflow', charge: input.charge });
      await cleanup(input.analysisId, out.organizationId ?? input.organizationId);
      return finished(out);
    },
  };

  /** The video copy, frames, temporary files and provider answer texts are only needed while the analysis runs. */
  async function cleanup(analysisId: string, organizationId: string | null | undefined) {
    await answers.forget(analysisId);
    await rm(workDir(analysisId), { recursive: true, force: true });
    if (organizationId) {
      await storage.deletePrefix(analysisPrefix(organizationId, analysisId)).catch((err) => logger.warn({ err, analysisId }, 'could not delete the analysis objects'));
    }
  }
}

export type AnalysisActivities = ReturnType<typeof createAnalysisActivities>;

/**
 * The analysis activities by retry class: analyzeVideo proxies each group with its own
 * policy (workflows/analysis/analyzeVideo.ts), typed with only that group's activities, so
 * e.g. an AI call cannot be made through the database proxy and its 20 patient attempts.
 * (Notices are their own factory: AnalysisNoticeActivities, notices.ts.)
 */
export type AnalysisMediaActivities = Pick<AnalysisActivities, 'prepareVideo' | 'extractFrames'>;
export type AnalysisDbActivities = Pick<AnalysisActivities, 'lookupCachedResult' | 'completeAnalysis' | 'failAnalysis'>;
export type AnalysisAiActivities = Pick<AnalysisActivities, 'analyzeWithClaude' | 'analyzeWithOpenAI'>;
/** Every analysis activity is in exactly one group: a new one fails to compile here until it is placed. */
type Ungrouped = Exclude<keyof AnalysisActivities, keyof (AnalysisMediaActivities & AnalysisDbActivities & AnalysisAiActivities)>;
const everyAnalysisActivityGrouped: [Ungrouped] extends [never] ? true : Ungrouped = true;
void everyAnalysisActivityGrouped;
