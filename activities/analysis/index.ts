import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { Context } from '@temporalio/activity';
import { LockMode } from '@mikro-orm/core';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import type { MikroORM } from '../../entities/orm';
import { Analysis, AnalysisCacheEntry, analysisReservationKey, closeAnalysis, type ClosedAnalysis } from '../../entities';
import { settleReservation } from '../../entities/credit-ledger';
import type { StoragePort } from '../../adapters/storage/port';
import { AiProviderError, type AiClients, type VisionClient } from '../../adapters/ai/types';
import { InvalidVideoError, extractFrames as extractVideoFrames, probeVideo, sha256File } from '../../adapters/media/ffmpeg';
import { ErrorType } from '../../domain/errors';
import { parseDuration } from '../../domain/time';
import {
  AnalysisResultSchema,
  MAX_VIDEO_SECONDS,
  MODEL_ANSWER_JSON_SCHEMA,
  PROMPT_VERSION,
  buildPrompt,
  cacheKeyOf,
  estimateCostUsd,
  frameTimestamps,
  framesPrefix,
  isTerminal,
  parseModelAnswer,
  type AnalysisResult,
  type AnalysisType,
} from '../../domain/analysis';

export interface AnalysisActivityDeps {
  config: Config;
  orm: MikroORM;
  logger: Logger;
  storage: StoragePort;
  ai: AiClients;
}

export interface PreparedVideo {
  analysisId: string;
  horseName: string;
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

export type FinishedAnalysis = ClosedAnalysis;

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

const workDir = (analysisId: string) => join(tmpdir(), 'horse-tempo-analysis', analysisId);

export function createAnalysisActivities(deps: AnalysisActivityDeps) {
  const { orm, storage, ai, config, logger } = deps;

  async function loadRow(analysisId: string) {
    const em = orm.em.fork();
    const row = await em.findOne(Analysis, { id: analysisId }, { populate: ['horse'] });
    if (!row) throw ApplicationFailure.nonRetryable(`analysis ${analysisId} does not exist`, ErrorType.NotFound);
    return { em, row };
  }

  /** A local, seekable copy of the video (the file itself with the local driver). */
  async function localVideo(analysisId: string, key: string): Promise<{ path: string; temporary: boolean }> {
    if (storage.localPath) return { path: storage.localPath(key), temporary: false };
    const path = join(workDir(analysisId), 'video');
    await storage.downloadToFile(key, path);
    return { path, temporary: true };
  }

  async function runProvider(client: VisionClient, model: string, input: { analysisId: string; type: AnalysisType; frameKeys: string[] }): Promise<AiOutcome> {
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
      logger.warn({ analysisId: input.analysisId, provider: e.provider, kind: e.kind, status: e.status, attempt }, 'AI provider call failed');
      throw ApplicationFailure.create({
        message: e.message,
        type: ErrorType.AiProviderFailed,
        nonRetryable: !e.retryable,
        details: [{ provider: e.provider, kind: e.kind, status: e.status ?? null }],
      });
    }
    const parsed = parseModelAnswer(response.text);
    if (!parsed.ok) {
      logger.warn({ analysisId: input.analysisId, provider: client.provider, error: parsed.error }, 'AI answer failed validation');
      // Never saved; the workflow treats it as this provider's failure and tries the other one.
      throw ApplicationFailure.nonRetryable(`${client.provider} answer failed validation: ${parsed.error}`, ErrorType.AiOutputInvalid);
    }
    return {
      provider: client.provider,
      model: response.model || model,
      result: { ...parsed.value, aiModel: response.model || model, processingTime: response.latencyMs },
      inputTokens: response.inputTokens,
      outputTokens: response.outputTokens,
      estimatedCostUsd: estimateCostUsd(response.model || model, response.inputTokens, response.outputTokens),
      latencyMs: response.latencyMs,
      sandbox: ai.sandbox || response.sandbox,
    };
  }

  return {
    /** Marks the row running, hashes and probes the video. Not a video / empty / too long: non-retryable InvalidVideo. */
    async prepareVideo(input: { analysisId: string }): Promise<PreparedVideo> {
      const { em, row } = await loadRow(input.analysisId);
      if (isTerminal(row.status)) throw ApplicationFailure.nonRetryable(`analysis ${row.id} is already ${row.status}`, ErrorType.Conflict);
      if (row.status === 'pending') {
        row.status = 'running';
        row.stage = 'probing';
        row.startedAt = new Date();
        await em.flush();
      }
      const head = await storage.head(row.videoKey);
      if (!head) throw ApplicationFailure.nonRetryable(`the video ${row.videoKey} no longer exists`, ErrorType.InvalidVideo);
      const video = await localVideo(row.id, row.videoKey);
      try {
        const [sha256, info] = await withHeartbeats(async () => {
          const info = await probeVideo(video.path);
          if (info.durationSec > MAX_VIDEO_SECONDS) {
            throw new InvalidVideoError(`the video is too long (${Math.round(info.durationSec)} s; at most ${MAX_VIDEO_SECONDS} s)`);
          }
          return [await sha256File(video.path), info] as const;
        });
        row.videoSha256 = sha256;
        row.videoDurationSec = info.durationSec;
        await em.flush();
        return { analysisId: row.id, horseName: row.horse.name, type: row.type, sha256, durationSec: info.durationSec, width: info.width, height: info.height };
      } catch (err) {
        if (err instanceof InvalidVideoError) throw ApplicationFailure.nonRetryable(`Invalid video: ${err.message}`, ErrorType.InvalidVideo);
        throw err;
      }
    },

    /** A validated answer for the same video content, type and prompt version that has not expired. */
    async lookupCachedResult(input: { sha256: string; type: AnalysisType }): Promise<AiOutcome | null> {
      const em = orm.em.fork();
      const entry = await em.findOne(AnalysisCacheEntry, {
        cacheKey: cacheKeyOf(input.sha256, input.type, PROMPT_VERSION),
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

    /** Evenly spaced JPEG frames (input seeking, ≤ 1024 px), stored next to the analysis. */
    async extractFrames(input: { analysisId: string; count: number }): Promise<{ frameKeys: string[] }> {
      const { row } = await loadRow(input.analysisId);
      const duration = row.videoDurationSec != null ? Number(row.videoDurationSec) : (await probeVideo((await localVideo(row.id, row.videoKey)).path)).durationSec;
      const video = await localVideo(row.id, row.videoKey);
      const outDir = join(workDir(row.id), 'frames');
      let done = 0;
      try {
        const frames = await withHeartbeats(
          () => extractVideoFrames(video.path, frameTimestamps(duration, input.count), { outDir, signal: activityContext()?.cancellationSignal, onFrame: () => done++ }),
          () => ({ frames: done }),
        );
        const prefix = framesPrefix(row.organization.id, row.id);
        const frameKeys = frames.map((_, i) => `${prefix}${String(i).padStart(3, '0')}.jpg`);
        await Promise.all(frames.map((f, i) => storage.putObject(frameKeys[i], f, 'image/jpeg')));
        return { frameKeys };
      } catch (err) {
        if (err instanceof InvalidVideoError) throw ApplicationFailure.nonRetryable(`Invalid video: ${err.message}`, ErrorType.InvalidVideo);
        throw err;
      } finally {
        await rm(workDir(row.id), { recursive: true, force: true });
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
     */
    async completeAnalysis(input: { analysisId: string; outcome: AiOutcome; fallbackUsed: boolean; cacheHit: boolean }): Promise<FinishedAnalysis & { globalScore: number }> {
      const result = AnalysisResultSchema.parse(input.outcome.result);
      const em = orm.em.fork();
      const out = await em.transactional(async (tx) => {
        const row = await tx.findOne(Analysis, { id: input.analysisId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!row) throw ApplicationFailure.nonRetryable(`analysis ${input.analysisId} does not exist`, ErrorType.NotFound);
        await tx.populate(row, ['horse']);
        const base = { found: true, horseName: row.horse.name, type: row.type, credits: row.credits, globalScore: result.globalScore };
        if (row.status === 'completed') return { ...base, changed: false, status: row.status };
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
          inputTokens: o.inputTokens,
          outputTokens: o.outputTokens,
          estimatedCostUsd: o.estimatedCostUsd,
          latencyMs: o.latencyMs,
          completedAt: new Date(),
          error: null,
          errorType: null,
        });
        await settleReservation(tx, row.userId, row.credits, analysisReservationKey(row.id), 'commit', `analysis ${row.id} (${row.type}) completed`);
        if (!input.cacheHit && row.videoSha256) {
          const cacheKey = cacheKeyOf(row.videoSha256, row.type, PROMPT_VERSION);
          const expiresAt = new Date(Date.now() + parseDuration(config.AI_CACHE_TTL));
          await tx.upsert(AnalysisCacheEntry, { cacheKey, sandbox: o.sandbox, result, provider: o.provider, model: o.model, expiresAt } as never, {
            onConflictFields: ['cacheKey'],
            onConflictAction: 'merge',
            onConflictExcludeFields: ['id', 'createdAt'],
          });
        }
        await tx.flush();
        return { ...base, changed: true, status: 'completed' };
      });
      await cleanup(input.analysisId, em);
      return out;
    },

    /** Marks the analysis failed or canceled and releases its credits; idempotent. */
    async failAnalysis(input: { analysisId: string; status: 'failed' | 'canceled'; errorType: string; error: string }): Promise<FinishedAnalysis> {
      const em = orm.em.fork();
      const out = await closeAnalysis(em, input.analysisId, input);
      await cleanup(input.analysisId, em);
      return out;
    },
  };

  /** Frames and temporary files are only needed while the analysis runs. */
  async function cleanup(analysisId: string, em: ReturnType<typeof orm.em.fork>) {
    await rm(workDir(analysisId), { recursive: true, force: true });
    const row = await em.fork().findOne(Analysis, { id: analysisId });
    if (row) await storage.deletePrefix(framesPrefix(row.organization.id, analysisId)).catch((err) => logger.warn({ err, analysisId }, 'could not delete frames'));
  }
}

export type AnalysisActivities = ReturnType<typeof createAnalysisActivities>;
