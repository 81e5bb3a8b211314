import { expect } from 'chai';
import sinon from 'sinon';
import { Worker } from '@temporalio/worker';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { analyzeVideo } from '../../workflows/analysis/analyzeVideo';
import { cancelSignal, progressQuery } from '../../workflows/analysis/messages';
import { createTimeSkippingEnv, uniqueQueue, workflowBundle } from '../support/temporal-env';
import { waitFor } from '../support/wait';
import { ErrorType } from '../../domain/errors';
import { sandboxAnswer } from '../../domain/analysis';
import type { AiOutcome } from '../../activities/analysis';

const outcome = (provider: 'anthropic' | 'openai'): AiOutcome => ({
  provider,
  model: provider === 'anthropic' ? 'claude-sonnet-4-5' : 'gpt-4o',
  result: { ...sandboxAnswer('locomotion'), aiModel: provider, processingTime: 1200 },
  inputTokens: 1000,
  outputTokens: 300,
  estimatedCostUsd: 0.01,
  latencyMs: 1200,
  sandbox: true,
});
const retryable = (msg: string) => ApplicationFailure.create({ message: msg, type: ErrorType.AiProviderFailed, nonRetryable: false });
const nonRetryable = (msg: string, type: string = ErrorType.AiProviderFailed) => ApplicationFailure.nonRetryable(msg, type);

describe('analyzeVideo workflow (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async function () {
    this.timeout(120_000);
    env = await createTimeSkippingEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  function activities(overrides: Record<string, sinon.SinonStub | ((...a: any[]) => Promise<unknown>)> = {}) {
    return {
      prepareVideo: sinon.stub().resolves({ analysisId: 'a1', type: 'locomotion', sha256: 'abc', durationSec: 4, width: 320, height: 240 }),
      lookupCachedResult: sinon.stub().resolves(null),
      extractFrames: sinon.stub().resolves({ frameKeys: ['f0', 'f1', 'f2'] }),
      analyzeWithClaude: sinon.stub().resolves(outcome('anthropic')),
      analyzeWithOpenAI: sinon.stub().resolves(outcome('openai')),
      completeAnalysis: sinon.stub().resolves({ changed: true, found: true, status: 'completed', type: 'locomotion', credits: 1, globalScore: 72 }),
      failAnalysis: sinon.stub().callsFake(async (i: { status: string }) => ({ changed: true, found: true, status: i.status, type: 'locomotion', credits: 1 })),
      sendAnalysisNotice: sinon.stub().resolves({ sent: true, emailed: true }),
      ...overrides,
    };
  }
  type Acts = ReturnType<typeof activities>;

  async function withWorker<T>(acts: Acts, fn: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = uniqueQueue('analysis');
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: acts });
    return worker.runUntil(fn(taskQueue));
  }
  const run = (acts: Acts) =>
    withWorker(acts, (taskQueue) =>
      env.client.workflow.execute(analyzeVideo, { taskQueue, workflowId: `analysis-${taskQueue}`, args: [{ analysisId: 'a1', userId: 'u1', type: 'locomotion' }] }),
    );

  it('saves the Claude result, commits credits and tells the owner by email and in-app when Claude succeeds', async () => {
    const acts = activities();
    const out = await run(acts);
    expect(out).to.include({ status: 'completed', provider: 'anthropic', fallbackUsed: false, cacheHit: false });
    expect(acts.extractFrames.firstCall.args[0]).to.deep.equal({ analysisId: 'a1', count: 12 });
    expect(acts.analyzeWithOpenAI.called).to.equal(false);
    expect(acts.completeAnalysis.calledOnceWith(sinon.match({ analysisId: 'a1', fallbackUsed: false, cacheHit: false }))).to.equal(true);
    expect(acts.completeAnalysis.firstCall.args[0].outcome.provider).to.equal('anthropic');
    // Ids and the outcome only: the activity words the notice from the row (no horse name in the history).
    expect(acts.sendAnalysisNotice.calledOnce).to.equal(true);
    expect(acts.sendAnalysisNotice.firstCall.args[0]).to.deep.equal({ analysisId: 'a1', outcome: 'completed' });
    expect(acts.failAnalysis.called).to.equal(false);
    sinon.assert.callOrder(acts.prepareVideo, acts.lookupCachedResult, acts.extractFrames, acts.analyzeWithClaude, acts.completeAnalysis, acts.sendAnalysisNotice);
  });

  it('retries a retryable Claude failure (429/5xx/529) a few times, then falls back to OpenAI with fallbackUsed', async () => {
    const acts = activities({ analyzeWithClaude: sinon.stub().rejects(retryable('anthropic: 529 overloaded')) });
    const out = await run(acts);
    expect(out).to.include({ status: 'completed', provider: 'openai', fallbackUsed: true });
    expect(acts.analyzeWithClaude.callCount).to.equal(3);
    expect(acts.analyzeWithOpenAI.callCount).to.equal(1);
    expect(acts.completeAnalysis.firstCall.args[0]).to.include({ fallbackUsed: true });
  });

  it('does not retry a non-retryable Claude error (bad request, auth) but still falls back to OpenAI', async () => {
    const acts = activities({ analyzeWithClaude: sinon.stub().rejects(nonRetryable('anthropic: 401 invalid key')) });
    const out = await run(acts);
    expect(out).to.include({ status: 'completed', provider: 'openai', fallbackUsed: true });
    expect(acts.analyzeWithClaude.callCount).to.equal(1);
  });

  it('treats invalid Claude output as a provider failure: no retry, no save of it, OpenAI answers', async () => {
    const acts = activities({ analyzeWithClaude: sinon.stub().rejects(nonRetryable('anthropic answer failed validation', ErrorType.AiOutputInvalid)) });
    const out = await run(acts);
    expect(out.provider).to.equal('openai');
    expect(acts.analyzeWithClaude.callCount).to.equal(1);
    expect(acts.completeAnalysis.callCount).to.equal(1);
    expect(acts.completeAnalysis.firstCall.args[0].outcome.provider).to.equal('openai');
  });

  it('fails the analysis and charges the credits once a provider answered (invalid output); nothing is saved', async () => {
    const acts = activities({
      analyzeWithClaude: sinon.stub().rejects(retryable('anthropic: 500')),
      analyzeWithOpenAI: sinon.stub().rejects(nonRetryable('openai answer failed validation', ErrorType.AiOutputInvalid)),
    });
    const out = await run(acts);
    expect(out).to.include({ status: 'failed', errorType: ErrorType.AiProviderFailed, fallbackUsed: true });
    expect(out.error).to.match(/both AI providers failed.*Claude: anthropic: 500.*OpenAI: openai answer failed validation/);
    expect(acts.completeAnalysis.called).to.equal(false);
    expect(acts.failAnalysis.calledOnceWith(sinon.match({ analysisId: 'a1', status: 'failed', errorType: ErrorType.AiProviderFailed, charge: true }))).to.equal(true);
    expect(acts.sendAnalysisNotice.calledOnce).to.equal(true);
    expect(acts.sendAnalysisNotice.firstCall.args[0]).to.deep.equal({ analysisId: 'a1', outcome: 'failed', charged: true });
  });

  it('charges nothing when both providers are down (errors, no answer)', async () => {
    const acts = activities({
      analyzeWithClaude: sinon.stub().rejects(nonRetryable('anthropic: 400 overloaded')),
      analyzeWithOpenAI: sinon.stub().rejects(nonRetryable('openai: 401')),
    });
    const out = await run(acts);
    expect(out).to.include({ status: 'failed', errorType: ErrorType.AiProviderFailed });
    expect(acts.failAnalysis.calledOnceWith(sinon.match({ status: 'failed', charge: false }))).to.equal(true);
    expect(acts.sendAnalysisNotice.firstCall.args[0]).to.deep.equal({ analysisId: 'a1', outcome: 'failed', charged: false });
  });

  it('charges the credits when both models answer invalid output (crafted frames cost two vision calls)', async () => {
    const acts = activities({
      analyzeWithClaude: sinon.stub().rejects(nonRetryable('anthropic answer failed validation', ErrorType.AiOutputInvalid)),
      analyzeWithOpenAI: sinon.stub().rejects(nonRetryable('openai answer failed validation', ErrorType.AiOutputInvalid)),
    });
    await run(acts);
    expect(acts.failAnalysis.calledOnceWith(sinon.match({ status: 'failed', charge: true }))).to.equal(true);
  });

  it('fails at the probe without any AI call when the file is not a usable video', async () => {
    const acts = activities({ prepareVideo: sinon.stub().rejects(nonRetryable('Invalid video: the video has zero length', ErrorType.InvalidVideo)) });
    const out = await run(acts);
    expect(out).to.include({ status: 'failed', errorType: ErrorType.InvalidVideo });
    expect(out.error).to.contain('zero length');
    expect(acts.prepareVideo.callCount).to.equal(1);
    expect(acts.extractFrames.called || acts.analyzeWithClaude.called || acts.analyzeWithOpenAI.called).to.equal(false);
    expect(acts.failAnalysis.calledOnceWith(sinon.match({ status: 'failed', charge: false }))).to.equal(true);
    expect(acts.sendAnalysisNotice.calledOnceWith(sinon.match({ analysisId: 'a1', outcome: 'failed' }))).to.equal(true);
  });

  it('stores our words, not a foreign message, when a step fails on an error that is not ours (storage, database, SDK)', async () => {
    // What an S3 or Postgres error says: a key, a host, SQL. Temporal types it by the error class.
    const leaky = Object.assign(new Error('NoSuchKey: orgs/o1/videos/v1.mp4 not found in bucket ht-prod at 10.0.3.7:9000'), { name: 'NoSuchKey' });
    const acts = activities({ prepareVideo: sinon.stub().rejects(leaky) });
    const out = await run(acts);
    expect(out).to.include({ status: 'failed', errorType: 'InternalError', error: 'the analysis stopped on an internal error on our side; try again later' });
    const stored = acts.failAnalysis.firstCall.args[0] as { errorType: string; error: string };
    expect(stored).to.include({ errorType: 'InternalError' });
    expect(stored.error).to.not.match(/10\.0\.3\.7|ht-prod|NoSuchKey/);

    // The same inside the both-providers-failed text: an AI activity that failed on reading its frames.
    const frames = Object.assign(new Error('connect ECONNREFUSED 10.0.3.7:9000'), { name: 'S3ServiceException' });
    const both = activities({ analyzeWithClaude: sinon.stub().rejects(frames), analyzeWithOpenAI: sinon.stub().rejects(nonRetryable('openai: the provider failed to answer (HTTP 500)')) });
    const failed = await run(both);
    expect(failed).to.include({ status: 'failed', errorType: ErrorType.AiProviderFailed });
    expect(failed.error).to.equal('both AI providers failed (Claude: the analysis stopped on an internal error on our side; try again later; OpenAI: openai: the provider failed to answer (HTTP 500))');
  });

  it('uses a cached result without extracting frames or calling any AI', async () => {
    const acts = activities({ lookupCachedResult: sinon.stub().resolves(outcome('anthropic')) });
    const out = await run(acts);
    expect(out).to.include({ status: 'completed', cacheHit: true, fallbackUsed: false });
    expect(acts.extractFrames.called).to.equal(false);
    expect(acts.analyzeWithClaude.called).to.equal(false);
    expect(acts.analyzeWithOpenAI.called).to.equal(false);
    expect(acts.completeAnalysis.firstCall.args[0]).to.include({ cacheHit: true });
  });

  it('stops cleanly on cancel during the AI call: canceled, credits charged (the provider was called), no result, no fallback', async () => {
    let claudeCancelled = false;
    const acts = activities({
      analyzeWithClaude: async () => {
        const ctx = Context.current();
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(200);
          }
        } catch (err) {
          claudeCancelled = true;
          throw err;
        }
      },
    });
    const out = await withWorker(acts, async (taskQueue) => {
      const handle = await env.client.workflow.start(analyzeVideo, { taskQueue, workflowId: `analysis-${taskQueue}`, args: [{ analysisId: 'a1', userId: 'u1', type: 'locomotion' }] });
      await waitFor('the analyzing stage', async () => (await handle.query(progressQuery)).stage === 'analyzing');
      expect((await handle.query(progressQuery)).percent).to.be.greaterThan(0);
      await handle.signal(cancelSignal);
      return handle.result();
    });
    // The user's own reason is stored on the row by the API (closeAnalysis records it); none goes through Temporal.
    expect(out).to.include({ status: 'canceled', errorType: 'Canceled', error: 'canceled by the user' });
    expect(acts.failAnalysis.calledOnceWith(sinon.match({ status: 'canceled', charge: true }))).to.equal(true);
    expect(acts.completeAnalysis.called).to.equal(false);
    expect(acts.analyzeWithOpenAI.called).to.equal(false);
    expect(acts.sendAnalysisNotice.calledOnce).to.equal(true);
    expect(acts.sendAnalysisNotice.firstCall.args[0]).to.deep.equal({ analysisId: 'a1', outcome: 'canceled', charged: true });
    expect(claudeCancelled).to.equal(true);
  });

  it('releases the reservation by key and tells nobody when the row is gone (horse deleted under it)', async () => {
    const acts = activities({
      prepareVideo: sinon.stub().rejects(nonRetryable('analysis a1 does not exist', ErrorType.NotFound)),
      // closeAnalysis on a missing row releases the `analysis:a1:reserve` credits by key.
      failAnalysis: sinon.stub().resolves({ changed: false, found: false, status: 'missing', type: null, credits: 1, closedBy: null }),
    });
    const out = await run(acts);
    expect(out).to.include({ status: 'failed', errorType: ErrorType.NotFound });
    expect(acts.failAnalysis.calledOnceWith(sinon.match({ analysisId: 'a1', status: 'failed' }))).to.equal(true);
    expect(acts.sendAnalysisNotice.called).to.equal(false);
  });

  /** A notice stub recording what it was asked to send (the real activity is keyed `analysis:<id>:<outcome>`). */
  function keyedNotify() {
    const keys: string[] = [];
    return {
      keys,
      sendAnalysisNotice: sinon.stub().callsFake(async (r: { analysisId: string; outcome: string }) => {
        keys.push(`analysis:${r.analysisId}:${r.outcome}`);
        return { sent: true, emailed: true };
      }),
    };
  }

  it('still emails and notifies exactly once when completeAnalysis committed but its attempt failed (retry sees changed: false)', async () => {
    const n = keyedNotify();
    let committed = false;
    const completeAnalysis = sinon.stub().callsFake(async () => {
      const changed = !committed;
      committed = true;
      if (changed) throw retryable('worker lost after the commit'); // the commit happened, the attempt did not report it
      return { changed: false, found: true, status: 'completed', type: 'locomotion', credits: 1, globalScore: 72, closedBy: 'workflow' };
    });
    const acts = activities({ completeAnalysis, sendAnalysisNotice: n.sendAnalysisNotice });
    const out = await run(acts);
    expect(out.status).to.equal('completed');
    expect(completeAnalysis.callCount).to.equal(2);
    expect(n.keys).to.deep.equal(['analysis:a1:completed']);
  });

  it('still tells the owner once when failAnalysis committed but its attempt failed', async () => {
    const n = keyedNotify();
    let closed = false;
    const failAnalysis = sinon.stub().callsFake(async (i: { status: string }) => {
      const changed = !closed;
      closed = true;
      if (changed) throw retryable('connection reset after the commit');
      return { changed: false, found: true, status: i.status, type: 'locomotion', credits: 1, closedBy: 'workflow' };
    });
    const acts = activities({
      prepareVideo: sinon.stub().rejects(nonRetryable('Invalid video: the video has zero length', ErrorType.InvalidVideo)),
      failAnalysis,
      sendAnalysisNotice: n.sendAnalysisNotice,
    });
    const out = await run(acts);
    expect(out).to.include({ status: 'failed', errorType: ErrorType.InvalidVideo });
    expect(failAnalysis.callCount).to.equal(2);
    expect(n.keys).to.deep.equal(['analysis:a1:failed']);
  });

  it('does not announce a row the API closed (start failed and the caller got a 503), nor one already closed otherwise', async () => {
    for (const finished of [
      { changed: false, found: true, status: 'failed', type: 'locomotion', credits: 1, closedBy: 'api' },
      { changed: false, found: true, status: 'canceled', type: 'locomotion', credits: 1, closedBy: 'workflow' },
    ]) {
      const acts = activities({
        prepareVideo: sinon.stub().rejects(nonRetryable('analysis a1 is already failed', ErrorType.Conflict)),
        failAnalysis: sinon.stub().resolves(finished),
      });
      const out = await run(acts);
      expect(out).to.include({ status: 'failed', errorType: ErrorType.Conflict });
      expect(acts.sendAnalysisNotice.called, finished.closedBy).to.equal(false);
    }
  });

  it('completes even when the notice fails for good (logged, not fatal)', async () => {
    const acts = activities({ sendAnalysisNotice: sinon.stub().rejects(nonRetryable('notifications table unavailable', ErrorType.Validation)) });
    const out = await run(acts);
    expect(out.status).to.equal('completed');
    expect(acts.sendAnalysisNotice.callCount).to.equal(1);
    sinon.assert.callOrder(acts.completeAnalysis, acts.sendAnalysisNotice);
  });

  it('on cancel during frame extraction waits for the extraction to stop before cleaning up (no frame uploaded after the cleanup)', async () => {
    let extractionStarted = false;
    let extractionStopped = false;
    let stoppedBeforeCleanup: boolean | null = null;
    const acts = activities({
      extractFrames: async () => {
        const ctx = Context.current();
        extractionStarted = true;
        try {
          for (;;) {
            ctx.heartbeat();
            await ctx.sleep(100);
          }
        } finally {
          extractionStopped = true;
        }
      },
      failAnalysis: sinon.stub().callsFake(async (i: { status: string }) => {
        stoppedBeforeCleanup = extractionStopped;
        return { changed: true, found: true, status: i.status, type: 'locomotion', credits: 1, closedBy: 'workflow' };
      }),
    });
    const out = await withWorker(acts, async (taskQueue) => {
      const handle = await env.client.workflow.start(analyzeVideo, { taskQueue, workflowId: `analysis-${taskQueue}`, args: [{ analysisId: 'a1', userId: 'u1', type: 'locomotion' }] });
      // Cancel once the extraction activity runs (not merely once the stage is shown).
      await waitFor('the extraction activity to run', () => extractionStarted);
      await handle.signal(cancelSignal);
      const result = await handle.result();
      // The order the server recorded, not a race against a fixed delay: with the workflow not
      // waiting (TRY_CANCEL), failAnalysis would be scheduled before extractFrames' cancellation
      // was recorded, however short the extraction's stop took.
      const events = (await handle.fetchHistory()).events ?? [];
      const at = (pred: (e: (typeof events)[number]) => boolean) => events.findIndex(pred);
      const extractScheduledId = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'extractFrames')?.eventId;
      const extractionEnded = at((e) => e.activityTaskCanceledEventAttributes?.scheduledEventId?.toString() === extractScheduledId?.toString());
      const cleanupScheduled = at((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'failAnalysis');
      expect(extractionEnded, 'extractFrames recorded as canceled').to.be.greaterThan(-1);
      expect(cleanupScheduled, 'failAnalysis scheduled after the extraction ended').to.be.greaterThan(extractionEnded);
      return result;
    });
    expect(out).to.include({ status: 'canceled' });
    expect(stoppedBeforeCleanup).to.equal(true);
  });
});
