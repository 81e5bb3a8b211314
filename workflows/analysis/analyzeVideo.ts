import {
  ActivityCancellationType,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  sleep,
  ActivityFailure,
  ApplicationFailure,
} from '@temporalio/workflow';
import type { AiOutcome, AnalysisAiActivities, AnalysisDbActivities, AnalysisMediaActivities, FinishedAnalysis, PreparedVideo } from '../../activities/analysis';
import type { AnalysisNoticeActivities, AnalysisNoticeRequest } from '../../activities/analysis/notices';
import { ErrorType } from '../../domain/errors';
import { ANALYSIS_FRAME_COUNT, STAGE_PERCENT, chargeUnfinishedAnalysis, type AnalysisStage } from '../../domain/analysis';
import { NOTIFY_ACTIVITY_OPTIONS } from '../shared/notify-policy';
import { cancelSignal, progressQuery, type AnalysisProgress, type AnalyzeVideoInput, type AnalyzeVideoOutcome } from './messages';

/** Longest an analysis may run before it is failed and its credits released. */
export const ANALYSIS_RUN_TIMEOUT = '30 minutes';

// Download, probe and frame extraction: heartbeating every second (a cancel reaches the activity
// with its next heartbeat, at most ~8 s later); a bad video is not retried. On cancel the
// workflow waits until the activity has stopped, so the cleanup that follows sees every frame.
const media = proxyActivities<AnalysisMediaActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.InvalidVideo, ErrorType.NotFound, ErrorType.Conflict] },
});
// Database bookkeeping: short, retried patiently (they are idempotent).
const db = proxyActivities<AnalysisDbActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 20, nonRetryableErrorTypes: [ErrorType.NotFound, ErrorType.Conflict] },
});
// AI calls: a few attempts for 429 / 5xx / 529 / timeouts, heartbeats so a dead worker is noticed fast.
// Bad request, auth and invalid output are non-retryable (thrown as such by the activity).
const { analyzeWithClaude, analyzeWithOpenAI } = proxyActivities<AnalysisAiActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds', maximumAttempts: 3, nonRetryableErrorTypes: [ErrorType.AiOutputInvalid] },
});
// The outcome notice: NOTIFY_ACTIVITY_OPTIONS (few attempts, keyed).
const notices = proxyActivities<AnalysisNoticeActivities>(NOTIFY_ACTIVITY_OPTIONS);

/**
 * Tells the owner (in-app, then email), worded by the activity from the row: only ids and
 * the outcome pass through the workflow, never the horse's name or other user-typed text.
 * Keyed, so a retried step never sends twice; a final failure is logged, not fatal.
 */
async function tell(req: AnalysisNoticeRequest): Promise<void> {
  try {
    await notices.sendAnalysisNotice(req);
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.warn('analysis notice could not be sent', { analysisId: req.analysisId, outcome: req.outcome, error: describe(err).message });
  }
}

/** The innermost message and type of an activity failure, as thrown: for the worker log. */
function describe(err: unknown): { type: string; message: string } {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure) return { type: e.type ?? 'Unknown', message: e.message };
  return { type: 'Unknown', message: (e as Error)?.message ?? String(e) };
}

/**
 * Failure types whose messages our activities word themselves (activities/analysis:
 * ai-failure-text.ts, the media checks, the row checks): the row may store them as they are.
 */
const OUR_WORDING: ReadonlySet<string> = new Set([ErrorType.InvalidVideo, ErrorType.AiProviderFailed, ErrorType.AiOutputInvalid, ErrorType.NotFound, ErrorType.Conflict]);
const INTERNAL_FAILURE = { type: 'InternalError', message: 'the analysis stopped on an internal error on our side; try again later' } as const;

/**
 * What the analysis row stores and GET /api/analyses/:id shows for a failure: our words.
 * Any other error (object storage, Postgres, an SDK: Temporal names it after the thrown
 * error's class) carries a foreign message that can quote keys, hosts, SQL or request ids;
 * the row gets InternalError and that message goes to the worker log only.
 */
function storable(failure: { type: string; message: string }, analysisId: string): { type: string; message: string } {
  if (OUR_WORDING.has(failure.type)) return failure;
  log.error('analysis failed on an error that is not ours to show; stored as InternalError', { analysisId, errorType: failure.type, error: failure.message });
  return { ...INTERNAL_FAILURE };
}

class AnalysisFailed extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One AI video analysis: probe → cache lookup → frames → Claude → (on failure) OpenAI →
 * save + commit credits → notify. Any failure or a cancel releases the credits and ends
 * the row in failed / canceled; the row is the record, the workflow completes normally.
 */
export async function analyzeVideo(input: AnalyzeVideoInput): Promise<AnalyzeVideoOutcome> {
  const { analysisId, type } = input;
  const progress: AnalysisProgress = { stage: 'queued', percent: 0, provider: null, fallbackUsed: false, cacheHit: false, frames: 0, cancelRequested: false };
  const stage = (s: AnalysisStage) => {
    progress.stage = s;
    progress.percent = STAGE_PERCENT[s];
  };
  setHandler(progressQuery, () => progress);

  const main = new CancellationScope();
  let cancelReason: string | null = null;
  let timedOut = false;
  // The signal carries no text: a reason the user typed is stored on the row by the API.
  setHandler(cancelSignal, () => {
    if (cancelReason !== null) return;
    cancelReason = 'canceled by the user';
    progress.cancelRequested = true;
    main.cancel();
  });
  // The run timeout: past it the analysis is failed and the credits released.
  void sleep(ANALYSIS_RUN_TIMEOUT).then(
    () => {
      timedOut = true;
      main.cancel();
    },
    () => {},
  );

  let saved: (FinishedAnalysis & { globalScore: number }) | undefined;
  // For the charging policy (chargeUnfinishedAnalysis): did a provider get the frames / answer?
  let providerCalled = false;
  let providerAnswered = false;
  let video: PreparedVideo | undefined;
  try {
    saved = await main.run(async () => {
      stage('probing');
      video = await media.prepareVideo({ analysisId });

      stage('cache');
      let outcome: AiOutcome | null = await db.lookupCachedResult({ analysisId, sha256: video.sha256, type });
      const organizationId = video.organizationId;
      const cacheHit = outcome !== null;
      if (outcome) {
        progress.cacheHit = true;
        progress.provider = 'cache';
      } else {
        stage('extracting');
        const { frameKeys } = await media.extractFrames({ analysisId, count: ANALYSIS_FRAME_COUNT[type] });
        progress.frames = frameKeys.length;

        stage('analyzing');
        progress.provider = 'anthropic';
        providerCalled = true;
        try {
          outcome = await analyzeWithClaude({ analysisId, type, frameKeys });
        } catch (claudeErr) {
          if (isCancellation(claudeErr)) throw claudeErr;
          const first = storable(describe(claudeErr), analysisId);
          if (first.type === ErrorType.AiOutputInvalid) providerAnswered = true;
          stage('fallback');
          progress.provider = 'openai';
          progress.fallbackUsed = true;
          try {
            outcome = await analyzeWithOpenAI({ analysisId, type, frameKeys });
          } catch (openaiErr) {
            if (isCancellation(openaiErr)) throw openaiErr;
            const second = storable(describe(openaiErr), analysisId);
            if (second.type === ErrorType.AiOutputInvalid) providerAnswered = true;
            throw new AnalysisFailed(ErrorType.AiProviderFailed, `both AI providers failed (Claude: ${first.message}; OpenAI: ${second.message})`);
          }
        }
      }

      stage('saving');
      const result = outcome;
      // Once a valid answer is in hand it is saved even if a cancel arrives now.
      return CancellationScope.nonCancellable(() => db.completeAnalysis({ analysisId, outcome: result, fallbackUsed: progress.fallbackUsed, cacheHit, organizationId }));
    });
  } catch (err) {
    const cancelled = isCancellation(err);
    const status = cancelled && !timedOut ? 'canceled' : 'failed';
    const { type: errorType, message } = err instanceof AnalysisFailed ? { type: err.type, message: err.message } : cancelled ? { type: timedOut ? 'Timeout' : 'Canceled', message: timedOut ? `the analysis took longer than ${ANALYSIS_RUN_TIMEOUT}` : (cancelReason ?? 'canceled') } : storable(describe(err), analysisId);
    stage(status);
    const charge = chargeUnfinishedAnalysis({ providerAnswered, providerCalled, canceledByUser: status === 'canceled' });
    await CancellationScope.nonCancellable(async () => {
      const finished = await db.failAnalysis({ analysisId, status, errorType, error: message, organizationId: video?.organizationId, charge });
      // The row ended as this workflow asked, now or in an earlier attempt of failAnalysis (whose
      // notification a crash may have skipped). A row closed by the API (start failed: the caller
      // got a 503) or by the reconcile is not this workflow's to announce.
      const ours = finished.changed || (finished.status === status && finished.closedBy === 'workflow');
      if (ours && finished.type) await tell({ analysisId, outcome: status, charged: charge });
    });
    return { analysisId, status, provider: null, fallbackUsed: progress.fallbackUsed, cacheHit: progress.cacheHit, errorType, error: message };
  }

  stage('notifying');
  // completeAnalysis returns only for a completed row (only this workflow completes it): a retry
  // after the commit (changed: false) still notifies; the keys make it once.
  if (saved.status === 'completed' && saved.type) {
    await CancellationScope.nonCancellable(() => tell({ analysisId, outcome: 'completed' }));
  }
  stage('done');
  return {
    analysisId,
    status: 'completed',
    provider: progress.cacheHit ? null : (progress.provider as 'anthropic' | 'openai'),
    fallbackUsed: progress.fallbackUsed,
    cacheHit: progress.cacheHit,
  };
}
