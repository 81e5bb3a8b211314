import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import sinon from 'sinon';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, eventually, registerVerifiedUser, type ApiClient } from '../support/http';
import { createHorse, credits, testVideos, uniqueVideo, uploadVideo, waitForAnalysis, type TestVideos } from '../support/analysis';
import { Analysis, AnalysisCacheEntry, CreditTransaction, Horse, Notification, analysisReservationKey, closeAnalysis } from '../../entities';
import { reserveCredits } from '../../entities/credit-ledger';
import { AnalysisResultSchema, PROMPT_VERSION, analysisPrefix, cacheKeyOf } from '../../domain/analysis';
import { ErrorType } from '../../domain/errors';
import { loadQueueActivities } from '../../workers/activities';
import { createAnalysisActivities, type PreparedVideo } from '../../activities/analysis';
import { ResendMailer } from '../../adapters/email/mailer';
import { createAiClients } from '../../adapters/ai';
import { LocalStorage } from '../../adapters/storage/local';
import { S3Storage } from '../../adapters/storage/s3';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { testS3 } from '../support/infra';
import { waitFor } from '../support/wait';
import { analyzeVideo } from '../../workflows/analysis/analyzeVideo';
import { uniqueQueue, workflowBundle } from '../support/temporal-env';
import { analysisWorkflowId } from '../../workflows/ids';
import { TaskQueue } from '../../workflows/queues';
import { analysisReconcile } from '../../workflows/analysis/analysisReconcile';
import { ANALYSIS_RECONCILE_SCHEDULE_ID, analysisReconcileSchedule, ensureSchedule } from '../../workers/schedules';

describe('AI video analysis through the HTTP API', () => {
  let stack: TestStack;
  let api: ApiClient;
  let videos: TestVideos;

  before(async function () {
    this.timeout(180_000);
    [stack, videos] = await Promise.all([startTestStack({ env: { AI_TIMEOUT_SECONDS: '2' } }), testVideos()]);
    api = apiClient(stack.baseUrl);
  });
  beforeEach(() => {
    stack.anthropic.reset();
    stack.openai.reset();
  });
  after(async () => {
    stack?.anthropic.reset();
    await stack?.close();
  });

  async function owner(name = 'Jappeloup') {
    const user = await registerVerifiedUser(api, stack.resend);
    const horseId = await createHorse(api, user.accessToken, name);
    return { user, token: user.accessToken, horseId };
  }
  async function start(token: string, horseId: string, videoKey: string, type = 'locomotion') {
    const res = await api.post('/api/analyses', { horseId, type, videoKey }, token);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    return res.body.id as string;
  }
  const emailsTo = (email: string) => stack.resend.emails.filter((m) => m.to.includes(email));

  it('analyses a video with Claude: result saved with provider, tokens, cost and latency; credits charged; owner emailed and notified', async () => {
    const { user, token, horseId } = await owner('Jappeloup');
    const videoKey = await uploadVideo(api, token, await uniqueVideo());
    expect(videoKey).to.match(new RegExp(`^orgs/${user.user.defaultOrganizationId}/videos/[0-9a-f-]{36}\\.mp4$`));
    const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, token);
    expect(res.status).to.equal(202);
    expect(res.body).to.include({ status: 'pending', credits: 1, workflowId: analysisWorkflowId(res.body.id) });
    expect(await credits(api, token)).to.deep.equal({ balance: 2, reserved: 1 });

    const done = await waitForAnalysis(api, token, res.body.id);
    expect(done).to.include({ status: 'completed', provider: 'anthropic', model: 'claude-sonnet-5-5', fallbackUsed: false, cacheHit: false, sandbox: true });
    expect(AnalysisResultSchema.safeParse(done.result).success).to.equal(true);
    expect(done.result.aiModel).to.equal('claude-sonnet-5-5');
    expect(done.result.categories.map((c: { name: string }) => c.name)).to.include('symmetry');
    expect(done.usage.inputTokens).to.be.greaterThan(0);
    expect(done.usage.outputTokens).to.be.greaterThan(0);
    expect(done.usage.estimatedCostUsd).to.be.greaterThan(0);
    expect(done.usage.latencyMs).to.be.a('number');
    expect(done.progress).to.include({ stage: 'done', percent: 100, live: false });
    expect(await credits(api, token)).to.deep.equal({ balance: 2, reserved: 0 });

    const calls = stack.anthropic.requestsFor(res.body.id);
    expect(calls).to.have.length(1);
    expect(calls[0]).to.include({ model: 'claude-sonnet-5-5', type: 'locomotion', images: 12 });
    expect(stack.openai.requestsFor(res.body.id)).to.have.length(0);

    await eventually(async () => emailsTo(user.email).some((m) => m.subject.includes('locomotion analysis of Jappeloup is ready')), 15_000, 'completion email');
    const notes = await eventually(async () => {
      const n = await api.get('/api/notifications?kind=analysis.completed', token);
      return n.body.items.length ? n.body.items : null;
    });
    expect(notes[0].data).to.deep.equal({ analysisId: res.body.id });

    const list = await api.get(`/api/horses/${horseId}/analyses`, token);
    expect(list.status).to.equal(200);
    expect(list.body.items.map((a: { id: string }) => a.id)).to.deep.equal([res.body.id]);
  });

  it('falls back to OpenAI when Claude keeps answering 529/429/500, and records fallbackUsed', async () => {
    const { token, horseId } = await owner();
    const videoKey = await uploadVideo(api, token, await uniqueVideo());
    stack.anthropic.script(529, 429, 500);
    const id = await start(token, horseId, videoKey, 'dressage');
    const done = await waitForAnalysis(api, token, id);
    expect(done).to.include({ status: 'completed', provider: 'openai', model: 'gpt-4o', fallbackUsed: true });
    expect(done.result.aiModel).to.equal('gpt-4o');
    expect(stack.anthropic.requestsFor(id).map((r) => r.behaviour)).to.deep.equal([529, 429, 500]);
    expect(stack.openai.requestsFor(id)).to.have.length(1);
    expect(stack.openai.requestsFor(id)[0]).to.include({ type: 'dressage', images: 12 });
    expect(await credits(api, token)).to.deep.equal({ balance: 1, reserved: 0 });
  });

  it('retries a Claude call that hangs past AI_TIMEOUT_SECONDS and keeps Claude when the retry answers', async () => {
    const { token, horseId } = await owner();
    const videoKey = await uploadVideo(api, token, await uniqueVideo());
    stack.anthropic.script('hang');
    const id = await start(token, horseId, videoKey);
    const done = await waitForAnalysis(api, token, id);
    expect(done).to.include({ status: 'completed', provider: 'anthropic', fallbackUsed: false });
    expect(stack.anthropic.requestsFor(id).map((r) => r.behaviour)).to.deep.equal(['hang', 200]);
  });

  it('fails, releases the credits and tells the owner when both providers fail; no result is stored', async () => {
    const { user, token, horseId } = await owner('Milton');
    const videoKey = await uploadVideo(api, token, await uniqueVideo());
    stack.anthropic.script(500, 500, 500);
    stack.openai.script(503, 429, 500);
    const id = await start(token, horseId, videoKey, 'jumping');
    expect(await credits(api, token)).to.deep.equal({ balance: 1, reserved: 2 });
    const done = await waitForAnalysis(api, token, id);
    expect(done.status).to.equal('failed');
    expect(done.result).to.equal(null);
    expect(done.error.type).to.equal('AiProviderFailed');
    expect(done.error.message).to.match(/both AI providers failed/);
    expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
    const mail = await eventually(async () => emailsTo(user.email).find((m) => m.subject.includes('could not be completed')), 15_000, 'failure email');
    expect(mail.text).to.contain('2 credits were not charged');
    const notes = await eventually(async () => (await api.get('/api/notifications?kind=analysis.failed', token)).body.items[0]);
    expect(notes.data.analysisId).to.equal(id);
  });

  it('never saves output that fails validation: invalid Claude answer → OpenAI answer saved; both invalid → failed and charged, nothing cached', async () => {
    const { token, horseId } = await owner();
    const videoKey = await uploadVideo(api, token, await uniqueVideo());
    stack.anthropic.script('invalid');
    const id = await start(token, horseId, videoKey, 'behavior');
    const done = await waitForAnalysis(api, token, id);
    expect(done).to.include({ status: 'completed', provider: 'openai', fallbackUsed: true });
    expect(done.result.globalScore).to.be.within(0, 100);
    expect(stack.anthropic.requestsFor(id)).to.have.length(1); // invalid output is not retried on the same provider

    const second = await owner();
    const key2 = await uploadVideo(api, second.token, await uniqueVideo());
    stack.anthropic.script('invalid');
    stack.openai.script('not-json');
    const id2 = await start(second.token, second.horseId, key2, 'conformation');
    const failed = await waitForAnalysis(api, second.token, id2);
    expect(failed.status).to.equal('failed');
    expect(failed.result).to.equal(null);
    // Our words, not the validator's detail or the model's text (activities/analysis/ai-failure-text.ts).
    expect(failed.error.message).to.match(/did not match the expected analysis format/);
    // Two vision calls answered: crafted frames are not a free way to burn our AI spend.
    expect(await credits(api, second.token)).to.deep.equal({ balance: 2, reserved: 0 });
    const em = stack.orm.em.fork();
    const row = await em.findOneOrFail(Analysis, { id: id2 });
    expect(row.result ?? null).to.equal(null);
    expect(await em.count(AnalysisCacheEntry, { cacheKey: cacheKeyOf(row.organization.id, row.videoSha256!, 'conformation', PROMPT_VERSION) })).to.equal(0);
  });

  it('answers a second analysis of the same video content and type in the same organization from the cache without any AI call', async () => {
    const { token, horseId } = await owner();
    const video = await uniqueVideo();
    const first = await start(token, horseId, await uploadVideo(api, token, video), 'conformation');
    await waitForAnalysis(api, token, first);
    const callsBefore = stack.anthropic.requests.length + stack.openai.requests.length;

    const second = await start(token, horseId, await uploadVideo(api, token, video), 'conformation');
    const done = await waitForAnalysis(api, token, second);
    expect(done).to.include({ status: 'completed', cacheHit: true, provider: 'anthropic' });
    expect(done.usage).to.include({ inputTokens: 0, outputTokens: 0 });
    expect(stack.anthropic.requests.length + stack.openai.requests.length).to.equal(callsBefore);
    expect(await credits(api, token)).to.deep.equal({ balance: 1, reserved: 0 });
  });

  it('does not reveal through the cache that another organization analysed the same file', async () => {
    const { token, horseId } = await owner();
    const video = await uniqueVideo();
    await waitForAnalysis(api, token, await start(token, horseId, await uploadVideo(api, token, video), 'conformation'));

    const stranger = await owner();
    const id = await start(stranger.token, stranger.horseId, await uploadVideo(api, stranger.token, video), 'conformation');
    const done = await waitForAnalysis(api, stranger.token, id);
    expect(done).to.include({ status: 'completed', cacheHit: false });
    expect(done.usage.inputTokens).to.be.greaterThan(0);
    expect(stack.anthropic.requestsFor(id).length + stack.openai.requestsFor(id).length).to.be.greaterThan(0);
  });

  it('shows live progress while running and stops cleanly on cancel: canceled, credits charged once the provider call began, no email', async () => {
    const { user, token, horseId } = await owner();
    const videoKey = await uploadVideo(api, token, await uniqueVideo());
    stack.anthropic.script('hang', 'hang', 'hang');
    const id = await start(token, horseId, videoKey);
    await eventually(async () => stack.anthropic.requestsFor(id).length > 0, 20_000, 'the Claude call');
    const running = await api.get(`/api/analyses/${id}`, token);
    expect(running.body.status).to.equal('running');
    expect(running.body.progress).to.include({ stage: 'analyzing', live: true, provider: 'anthropic' });
    expect(running.body.progress.percent).to.be.within(1, 99);

    const cancel = await api.post(`/api/analyses/${id}/cancel`, { reason: 'wrong clip' }, token);
    expect(cancel.status).to.equal(202);
    expect(cancel.body).to.deep.equal({ id, status: 'canceling' });
    const done = await waitForAnalysis(api, token, id);
    expect(done.status).to.equal('canceled');
    expect(done.error).to.deep.equal({ type: 'Canceled', message: 'wrong clip' });
    expect(await credits(api, token)).to.deep.equal({ balance: 2, reserved: 0 });
    expect(stack.openai.requestsFor(id)).to.have.length(0);
    expect(emailsTo(user.email).filter((m) => m.subject.includes('analysis'))).to.have.length(0);
    const again = await api.post(`/api/analyses/${id}/cancel`, {}, token);
    expect(again.status).to.equal(409);
  });

  it('fails a too-long video at the probe without any AI call, releases the credits and tells the owner', async () => {
    const { user, token, horseId } = await owner();
    const id = await start(token, horseId, await uploadVideo(api, token, videos.tooLong));
    const done = await waitForAnalysis(api, token, id);
    expect(done.status).to.equal('failed');
    expect(done.error.type).to.equal('InvalidVideo');
    expect(done.error.message).to.match(/too long \(601 s; at most 600 s\)/);
    expect(stack.anthropic.requestsFor(id)).to.have.length(0);
    expect(stack.openai.requestsFor(id)).to.have.length(0);
    expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
    await eventually(async () => emailsTo(user.email).some((m) => m.text?.includes('too long')), 15_000, 'failure email');
  });

  describe('bad input answers a 4xx with a clear JSON error', () => {
    let a: Awaited<ReturnType<typeof owner>>;
    let b: Awaited<ReturnType<typeof owner>>;
    let keyA: string;
    let keyB: string;
    before(async () => {
      [a, b] = await Promise.all([owner('A'), owner('B')]);
      [keyA, keyB] = await Promise.all([uploadVideo(api, a.token, videos.short), uploadVideo(api, b.token, videos.short)]);
    });

    it('404 for an unknown horse and for another organization’s horse', async () => {
      const unknown = await api.post('/api/analyses', { horseId: '00000000-0000-4000-8000-000000000000', type: 'locomotion', videoKey: keyA }, a.token);
      expect(unknown.status).to.equal(404);
      expect(unknown.body.message).to.match(/Horse .* not found/);
      const foreign = await api.post('/api/analyses', { horseId: b.horseId, type: 'locomotion', videoKey: keyA }, a.token);
      expect(foreign.status).to.equal(404);
      expect(foreign.body).to.include.keys('statusCode', 'error', 'message', 'requestId');
      // The video is fine in both, so the horse was refused by the start statement itself
      // (quick path): nothing reserved, nothing created.
      expect(await credits(api, a.token)).to.deep.equal({ balance: 3, reserved: 0 });
      expect((await api.get(`/api/horses/${a.horseId}/analyses`, a.token)).body.total).to.equal(0);
    });

    it('400 for an unknown type, naming the field and the allowed values', async () => {
      const res = await api.post('/api/analyses', { horseId: a.horseId, type: 'racing', videoKey: keyA }, a.token);
      expect(res.status).to.equal(400);
      expect(res.body.details[0].field).to.equal('type');
      expect(res.body.message).to.match(/locomotion, jumping, dressage, behavior, conformation/);
    });

    it('404 for a missing or another organization’s videoKey, 400 for a key we never issued', async () => {
      const missing = keyA.replace(/[0-9a-f-]{36}\.mp4$/, '11111111-1111-4111-8111-111111111111.mp4');
      const r1 = await api.post('/api/analyses', { horseId: a.horseId, type: 'locomotion', videoKey: missing }, a.token);
      expect(r1.status).to.equal(404);
      expect(r1.body.message).to.match(/upload it first/);
      const r2 = await api.post('/api/analyses', { horseId: a.horseId, type: 'locomotion', videoKey: keyB }, a.token);
      expect(r2.status).to.equal(404);
      const r3 = await api.post('/api/analyses', { horseId: a.horseId, type: 'locomotion', videoKey: '../../etc/passwd' }, a.token);
      expect(r3.status).to.equal(400);
      expect(r3.body.details[0].field).to.equal('videoKey');
      expect(await credits(api, a.token)).to.deep.equal({ balance: 3, reserved: 0 });
    });

    it('refuses a non-video upload: a non-video content type (400) and non-video bytes (422)', async () => {
      const type = await api.post('/api/uploads', { contentType: 'application/pdf', size: 1000 }, a.token);
      expect(type.status).to.equal(400);
      expect(type.body.details[0].field).to.equal('contentType');
      expect(type.body.message).to.match(/video content type/);
      const key = await uploadVideo(api, a.token, videos.notVideo);
      const res = await api.post('/api/analyses', { horseId: a.horseId, type: 'locomotion', videoKey: key }, a.token);
      expect(res.status).to.equal(422);
      expect(res.body.message).to.match(/not a video/);
    });

    it('413 for a video over the size limit, 413 for more bytes than declared, 415 for another content type, 401 for a forged token', async () => {
      const big = await api.post('/api/uploads', { contentType: 'video/mp4', size: 500 * 1024 * 1024 + 1 }, a.token);
      expect(big.status).to.equal(413);
      expect(big.body.message).to.match(/limit is 500 MB/);
      const target = await api.post('/api/uploads', { contentType: 'video/mp4', size: 10 }, a.token);
      expect(target.status).to.equal(201);
      const tooMany = await fetch(target.body.uploadUrl, { method: 'PUT', headers: { 'content-type': 'video/mp4' }, body: Buffer.alloc(11) });
      expect(tooMany.status).to.equal(413);
      expect((await tooMany.json()).message).to.match(/10 were declared/);
      const wrongType = await fetch(target.body.uploadUrl, { method: 'PUT', headers: { 'content-type': 'video/webm' }, body: Buffer.alloc(10) });
      expect(wrongType.status).to.equal(415);
      const forged = target.body.uploadUrl.replace(/\.[^.]+$/, '.AAAA');
      const bad = await fetch(forged, { method: 'PUT', headers: { 'content-type': 'video/mp4' }, body: Buffer.alloc(10) });
      expect(bad.status).to.equal(401);
      expect(await stack.storage.head(target.body.videoKey)).to.equal(null);
    });

    it('402 when there are not enough credits, and nothing is created', async () => {
      const first = await api.post('/api/analyses', { horseId: a.horseId, type: 'jumping', videoKey: keyA }, a.token);
      expect(first.status).to.equal(202);
      const second = await api.post('/api/analyses', { horseId: a.horseId, type: 'dressage', videoKey: keyA }, a.token);
      expect(second.status).to.equal(402);
      expect(second.body.message).to.match(/Not enough credits: 2 needed, 1 available/);
      await waitForAnalysis(api, a.token, first.body.id);
      const list = await api.get(`/api/horses/${a.horseId}/analyses`, a.token);
      expect(list.body.total).to.equal(1);
    });

    it('404 for another organization’s analysis (read and cancel)', async () => {
      const id = await start(a.token, a.horseId, keyA, 'behavior');
      expect((await api.get(`/api/analyses/${id}`, b.token)).status).to.equal(404);
      expect((await api.post(`/api/analyses/${id}/cancel`, {}, b.token)).status).to.equal(404);
      expect((await api.get(`/api/horses/${a.horseId}/analyses`, b.token)).status).to.equal(404);
      await waitForAnalysis(api, a.token, id);
    });
  });

  describe('no orphans between rows and workflows', () => {
    it('fails the row and releases the credits in the same request when the workflow cannot be started (503)', async () => {
      const { token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, videos.short);
      const stub = sinon.stub(stack.temporal, 'client').rejects(new Error('Temporal is down'));
      try {
        const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, token);
        expect(res.status).to.equal(503);
        expect(res.body.message).to.match(/credits were not charged/);
      } finally {
        stub.restore();
      }
      const list = await api.get(`/api/horses/${horseId}/analyses`, token);
      expect(list.body.items).to.have.length(1);
      expect(list.body.items[0]).to.include({ status: 'failed' });
      expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
    });

    it('reconcile starts the workflow of a pending row left behind by a crash, and fails one whose workflow is gone', async () => {
      const { user, token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, await uniqueVideo());
      const em = stack.orm.em.fork();
      const horse = await em.findOneOrFail(Horse, { id: horseId });
      // A row + reservation committed by an API process that died before starting the workflow.
      const crashedId = crypto.randomUUID();
      await em.transactional(async (tx) => {
        tx.create(Analysis, { id: crashedId, organization: horse.organization, horse, userId: user.user.id, type: 'locomotion', credits: 1, videoKey, workflowId: analysisWorkflowId(crashedId) } as never);
        await tx.flush();
        await reserveCredits(tx, user.user.id, 1, analysisReservationKey(crashedId), 'test');
      });
      // A running analysis whose workflow an operator terminated.
      stack.anthropic.script('hang');
      const goneId = await start(token, horseId, videoKey);
      await eventually(async () => stack.anthropic.requestsFor(goneId).length > 0, 20_000, 'the Claude call');
      const client = await stack.temporal.client();
      await client.workflow.getHandle(analysisWorkflowId(goneId)).terminate('test: operator');
      await em.nativeUpdate(Analysis, { id: { $in: [crashedId, goneId] } }, { createdAt: new Date(Date.now() - 20 * 60_000) });
      expect(await credits(api, token)).to.deep.equal({ balance: 1, reserved: 2 });

      const report = await client.workflow.execute(analysisReconcile, { taskQueue: TaskQueue.analysis, workflowId: `reconcile-test-${crashedId}`, args: [{ olderThanMinutes: 15 }] });
      expect(report.started).to.include(crashedId);
      expect(report.failed).to.include(goneId);
      const crashed = await waitForAnalysis(api, token, crashedId);
      expect(crashed.status).to.equal('completed');
      const gone = await api.get(`/api/analyses/${goneId}`, token);
      expect(gone.body).to.include({ status: 'failed' });
      expect(gone.body.error.type).to.equal('Orphaned');
      // The owner is told (in-app + email), once.
      const note = await eventually(async () => (await api.get('/api/notifications?kind=analysis.failed', token)).body.items.find((n: { data: { analysisId: string } }) => n.data.analysisId === goneId));
      expect(note.body).to.match(/workflow ended without finishing/);
      expect(emailsTo(user.email).filter((m) => m.subject.includes('could not be completed') && m.text?.includes(goneId))).to.have.length(1);
      expect(await credits(api, token)).to.deep.equal({ balance: 2, reserved: 0 });
      const txs = await em.fork().find(CreditTransaction, { key: { $like: `analysis:${crashedId}:%` } });
      expect(txs.map((t) => t.kind).sort()).to.deep.equal(['commit', 'reserve']);
    });

    it('creates the analysis-reconcile Schedule once (idempotent)', async () => {
      const client = await stack.temporal.client();
      await client.schedule.getHandle(ANALYSIS_RECONCILE_SCHEDULE_ID).delete().catch(() => {});
      expect(await ensureSchedule(client, analysisReconcileSchedule())).to.equal('created');
      expect(await ensureSchedule(client, analysisReconcileSchedule())).to.equal('updated');
      const d = await client.schedule.getHandle(ANALYSIS_RECONCILE_SCHEDULE_ID).describe();
      expect(d.action).to.include({ type: 'startWorkflow', workflowType: 'analysisReconcile', taskQueue: TaskQueue.analysis });
      await client.schedule.getHandle(ANALYSIS_RECONCILE_SCHEDULE_ID).delete();
    });
  });

  describe('organizations, uploads and the request lifecycle', () => {
    it('refuses another organization’s videoKey with 404 (no credits reserved) and a forged token for another key with 401', async () => {
      const a = await owner('A horse');
      const b = await owner('B horse');
      const keyA = await uploadVideo(api, a.token, videos.short);
      // B (not a member of A's organization) names A's video on B's own horse.
      const res = await api.post('/api/analyses', { horseId: b.horseId, type: 'locomotion', videoKey: keyA }, b.token);
      expect(res.status).to.equal(404);
      expect(res.body.message).to.match(/not found: upload it first/);
      expect(await credits(api, b.token)).to.deep.equal({ balance: 3, reserved: 0 });
      expect((await api.get(`/api/horses/${b.horseId}/analyses`, b.token)).body.total).to.equal(0);

      // A's upload token rewritten to B's prefix: the signature no longer matches, nothing is written.
      const target = await api.post('/api/uploads', { contentType: 'video/mp4', size: 4 }, a.token);
      const [payload, mac] = (target.body.uploadUrl as string).split('/').pop()!.split('.');
      const grant = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const foreignKey = `orgs/${b.user.user.defaultOrganizationId}/videos/${crypto.randomUUID()}.mp4`;
      const forged = Buffer.from(JSON.stringify({ ...grant, key: foreignKey })).toString('base64url');
      const put = await fetch(target.body.uploadUrl.replace(`${payload}.${mac}`, `${forged}.${mac}`), { method: 'PUT', headers: { 'content-type': 'video/mp4' }, body: Buffer.from('evil') });
      expect(put.status).to.equal(401);
      expect(await stack.storage.head(foreignKey)).to.equal(null);
    });

    it('tells a member of two organizations that the video belongs to another organization than the horse (422)', async () => {
      const a = await owner('Horse of A');
      const b = await owner('Horse of B');
      const invitation = await api.post(`/api/organizations/${b.user.user.defaultOrganizationId}/invitations`, { email: a.user.email }, b.token);
      expect(invitation.status).to.equal(201);
      expect((await api.post(`/api/invitations/${invitation.body.id}/accept`, {}, a.token)).status).to.equal(200);
      const keyA = await uploadVideo(api, a.token, videos.short);
      const res = await api.post('/api/analyses', { horseId: b.horseId, type: 'locomotion', videoKey: keyA }, a.token);
      expect(res.status).to.equal(422);
      expect(res.body.message).to.match(/belongs to another organization than the horse/);
      expect(res.body.details[0]).to.include({ field: 'videoKey' });
    });

    it('makes upload URLs single-use: a second PUT is refused (409) and the stored bytes are the first ones', async () => {
      const { token } = await owner();
      const bytes = readFileSync(videos.short);
      const target = await api.post('/api/uploads', { contentType: 'video/mp4', size: bytes.length }, token);
      expect((await fetch(target.body.uploadUrl, { method: 'PUT', headers: target.body.headers, body: bytes })).status).to.equal(200);
      const swap = Buffer.from(readFileSync(videos.other).subarray(0, bytes.length));
      const again = await fetch(target.body.uploadUrl, { method: 'PUT', headers: target.body.headers, body: swap });
      expect(again.status).to.equal(409);
      expect((await again.json()).message).to.match(/already used/);
      expect((await stack.storage.getObject(target.body.videoKey)).equals(bytes)).to.equal(true);
    });

    it('accepts a Content-Type with parameters (codecs): signed and answered as the bare media type', async () => {
      const { token, horseId } = await owner();
      const bytes = readFileSync(videos.short);
      const ct = 'video/mp4; codecs="avc1.42E01E"';
      const target = await api.post('/api/uploads', { contentType: ct, size: bytes.length }, token);
      expect(target.status).to.equal(201);
      expect(target.body.headers).to.deep.equal({ 'content-type': 'video/mp4' });
      expect(target.body.videoKey).to.match(/\.mp4$/);
      const put = await fetch(target.body.uploadUrl, { method: 'PUT', headers: { 'content-type': ct }, body: bytes });
      expect(put.status, await put.clone().text()).to.equal(200);
      expect(await stack.storage.head(target.body.videoKey)).to.deep.equal({ size: bytes.length, contentType: 'video/mp4' });
      const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey: target.body.videoKey }, token);
      expect(res.status).to.equal(202);
      await waitForAnalysis(api, token, res.body.id);
    });

    it('refuses a short text that starts with G (not MPEG-TS) with 422 before anything is reserved', async () => {
      const { token, horseId } = await owner();
      const file = join(videos.dir, 'g-text.mp4');
      writeFileSync(file, 'Gallop notes: left fore looked short today.\n');
      const key = await uploadVideo(api, token, file);
      const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey: key }, token);
      expect(res.status).to.equal(422);
      expect(res.body.message).to.match(/not a video/);
      expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
    });

    it('fails text crafted to pass the sniff (G every 188 bytes) at the probe as InvalidVideo with a clear reason, no AI call', async () => {
      const { token, horseId } = await owner();
      const file = join(videos.dir, 'g-every-188.mp4');
      writeFileSync(file, `G${'x'.repeat(186)}\n`.repeat(4));
      const id = await start(token, horseId, await uploadVideo(api, token, file));
      const done = await waitForAnalysis(api, token, id);
      expect(done.status).to.equal('failed');
      expect(done.error.type).to.equal('InvalidVideo');
      // ffprobe reads it as an MPEG-TS stream without any video in it.
      expect(done.error.message).to.match(/^Invalid video: the file (has no video stream|is not a readable video \(ffprobe: .+\))$/);
      expect(stack.anthropic.requestsFor(id)).to.have.length(0);
      expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
    });

    it('gives uploads Node’s long absolute requestTimeout (their stalls are cut by the idle timeout), and keeps headersTimeout', () => {
      expect(stack.server.requestTimeout).to.equal(stack.config.HTTP_REQUEST_TIMEOUT_SECONDS * 1000);
      expect(stack.config.HTTP_REQUEST_TIMEOUT_SECONDS).to.be.at.least(3600);
      expect(stack.server.headersTimeout).to.equal(stack.config.HTTP_HEADERS_TIMEOUT_SECONDS * 1000);
    });
  });

  describe('Idempotency-Key on POST /api/analyses', () => {
    const post = (token: string, body: unknown, key?: string) => api.call('POST', '/api/analyses', { body, token, headers: key ? { 'idempotency-key': key } : {} });

    it('answers a retried POST with the first analysis (same id, reserved once); another body with the same key is a 409', async () => {
      const { token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, await uniqueVideo());
      const body = { horseId, type: 'locomotion', videoKey };
      const key = `retry-${crypto.randomUUID()}`;
      const first = await post(token, body, key);
      expect(first.status).to.equal(202);
      const second = await post(token, body, key);
      expect(second.status).to.equal(202);
      expect(second.body.id).to.equal(first.body.id);
      expect(second.headers.get('idempotent-replayed')).to.equal('true');
      expect(await credits(api, token)).to.deep.include({ balance: 2 });
      const other = await post(token, { ...body, type: 'behavior' }, key);
      expect(other.status).to.equal(409);
      expect(other.body.message).to.match(/Idempotency-Key was already used for another request/);
      // Without a key, or with another one, a new analysis is created.
      const fresh = await post(token, body, `retry-${crypto.randomUUID()}`);
      expect(fresh.status).to.equal(202);
      expect(fresh.body.id).to.not.equal(first.body.id);
      await Promise.all([waitForAnalysis(api, token, first.body.id), waitForAnalysis(api, token, fresh.body.id)]);
      expect((await api.get(`/api/horses/${horseId}/analyses`, token)).body.total).to.equal(2);
      expect(await credits(api, token)).to.deep.equal({ balance: 1, reserved: 0 });
    });

    it('creates one analysis for concurrent POSTs with the same key', async () => {
      const { token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, await uniqueVideo());
      const key = `race-${crypto.randomUUID()}`;
      const results = await Promise.all([1, 2, 3].map(() => post(token, { horseId, type: 'locomotion', videoKey }, key)));
      expect(results.map((r) => r.status)).to.deep.equal([202, 202, 202]);
      expect(new Set(results.map((r) => r.body.id)).size).to.equal(1);
      const list = await api.get(`/api/horses/${horseId}/analyses`, token);
      expect(list.body.total).to.equal(1);
      await waitForAnalysis(api, token, results[0].body.id);
    });

    it('lets the retry after a 503 (workflow not started) start a new analysis; refuses a malformed key', async () => {
      const { token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, videos.short);
      const body = { horseId, type: 'locomotion', videoKey };
      const key = `down-${crypto.randomUUID()}`;
      const stub = sinon.stub(stack.temporal, 'client').rejects(new Error('Temporal is down'));
      let failedId: string;
      try {
        expect((await post(token, body, key)).status).to.equal(503);
        failedId = (await api.get(`/api/horses/${horseId}/analyses`, token)).body.items[0].id;
      } finally {
        stub.restore();
      }
      const retry = await post(token, body, key);
      expect(retry.status).to.equal(202);
      expect(retry.body.id).to.not.equal(failedId);
      await waitForAnalysis(api, token, retry.body.id);
      const bad = await post(token, body, 'has spaces in it');
      expect(bad.status).to.equal(400);
      expect(bad.body.details[0]).to.include({ location: 'header', field: 'Idempotency-Key' });
    });
  });

  describe('horse deletion, cancel and reconcile edges', () => {
    it('refuses to delete a horse with an analysis in progress (409); after the cancel it can be deleted', async () => {
      const { token, horseId } = await owner('Deleted later');
      const videoKey = await uploadVideo(api, token, await uniqueVideo());
      stack.anthropic.script('hang', 'hang', 'hang');
      const id = await start(token, horseId, videoKey);
      const refused = await api.delete(`/api/horses/${horseId}`, token);
      expect(refused.status).to.equal(409);
      expect(refused.body.message).to.match(/analysis in progress: cancel it first/);
      expect((await api.get(`/api/horses/${horseId}`, token)).status).to.equal(200);
      expect((await api.post(`/api/analyses/${id}/cancel`, {}, token)).status).to.equal(202);
      const closedView = await waitForAnalysis(api, token, id);
      expect(closedView.status, JSON.stringify(closedView)).to.equal('canceled');
      expect((await api.delete(`/api/horses/${horseId}`, token)).status).to.equal(204);
      expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
    });

    it('releases the credits of an analysis whose row is gone, by its reservation key', async () => {
      const { user, token, horseId } = await owner();
      const em = stack.orm.em.fork();
      const horse = await em.findOneOrFail(Horse, { id: horseId });
      const id = crypto.randomUUID();
      await em.transactional(async (tx) => {
        tx.create(Analysis, { id, organization: horse.organization, horse, userId: user.user.id, type: 'jumping', credits: 2, videoKey: 'x', workflowId: analysisWorkflowId(id) } as never);
        await tx.flush();
        await reserveCredits(tx, user.user.id, 2, analysisReservationKey(id), 'test');
      });
      expect(await credits(api, token)).to.deep.equal({ balance: 1, reserved: 2 });
      // What a cascade from a deleted horse or organization leaves behind: the reservation only.
      await em.nativeDelete(Analysis, { id });
      const closed = await closeAnalysis(stack.orm.em.fork(), id, { status: 'failed', errorType: ErrorType.NotFound, error: 'gone', closedBy: 'workflow' });
      expect(closed).to.include({ found: false, credits: 2 });
      expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
      // A retry releases nothing more.
      await closeAnalysis(stack.orm.em.fork(), id, { status: 'failed', errorType: ErrorType.NotFound, error: 'gone', closedBy: 'workflow' });
      expect(await credits(api, token)).to.deep.equal({ balance: 3, reserved: 0 });
      expect((await stack.orm.em.fork().find(CreditTransaction, { key: { $like: `analysis:${id}:%` } })).map((t) => t.kind).sort()).to.deep.equal(['release', 'reserve']);
    });

    it('answers 503 with a clear message when a cancel cannot reach Temporal, and the analysis keeps running', async () => {
      const { token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, await uniqueVideo());
      stack.anthropic.script('hang', 'hang', 'hang');
      const id = await start(token, horseId, videoKey);
      const stub = sinon.stub(stack.temporal, 'client').rejects(new Error('Temporal is down'));
      try {
        const res = await api.post(`/api/analyses/${id}/cancel`, {}, token);
        expect(res.status).to.equal(503);
        expect(res.body.message).to.match(/unavailable right now; the analysis was not canceled/);
      } finally {
        stub.restore();
      }
      expect((await api.get(`/api/analyses/${id}`, token)).body.status).to.be.oneOf(['pending', 'running']);
      expect((await api.post(`/api/analyses/${id}/cancel`, {}, token)).status).to.equal(202);
      await waitForAnalysis(api, token, id);
    });

    it('prepareVideo leaves a row canceled between its read and its update canceled (conditional pending → running)', async () => {
      const { user, token, horseId } = await owner();
      const videoKey = await uploadVideo(api, token, videos.short);
      const em = stack.orm.em.fork();
      const horse = await em.findOneOrFail(Horse, { id: horseId });
      const id = crypto.randomUUID();
      em.create(Analysis, { id, organization: horse.organization, horse, userId: user.user.id, type: 'locomotion', credits: 1, videoKey, workflowId: analysisWorkflowId(id) } as never);
      await em.flush();
      // An ORM whose first read is followed at once by a cancel from another request.
      let raced = false;
      const racingOrm = {
        em: {
          fork() {
            const forked = stack.orm.em.fork();
            const findOne = forked.findOne.bind(forked);
            forked.findOne = (async (...args: Parameters<typeof findOne>) => {
              const found = await findOne(...args);
              if (!raced) {
                raced = true;
                await stack.orm.em.fork().nativeUpdate(Analysis, { id }, { status: 'canceled' });
              }
              return found;
            }) as typeof forked.findOne;
            return forked;
          },
        },
      };
      const acts = createAnalysisActivities({ config: stack.config, orm: racingOrm as never, logger: stack.deps.logger, storage: stack.storage, ai: createAiClients(stack.config) });
      const err = await acts.prepareVideo({ analysisId: id }).catch((e) => e);
      expect(err).to.be.instanceOf(ApplicationFailure);
      expect(err).to.include({ type: ErrorType.Conflict });
      expect((await stack.orm.em.fork().findOneOrFail(Analysis, { id })).status).to.equal('canceled');
    });

    it('with the S3 driver, heartbeats while the video downloads and downloads it once per activity (prepare, extract)', async function () {
      this.timeout(90_000);
      const s3 = await testS3();
      const real = new S3Storage({ bucket: s3.bucket, region: s3.region, endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, forcePathStyle: true });
      let downloading = false;
      let downloads = 0;
      let beatsWhileDownloading = 0;
      // A slow link: the download lasts until the activity has heartbeaten twice during it
      // (a condition, not a fixed time: it times out, failing the test, if no heartbeat comes).
      const slow = Object.assign(Object.create(real) as S3Storage, {
        async downloadToFile(key: string, path: string, opts?: Parameters<S3Storage['downloadToFile']>[2]) {
          downloading = true;
          downloads++;
          try {
            await waitFor('two heartbeats during the download', () => beatsWhileDownloading >= 2, { timeoutMs: 30_000 });
            await real.downloadToFile(key, path, opts);
          } finally {
            downloading = false;
          }
        },
      });
      const { user, horseId } = await owner();
      const em = stack.orm.em.fork();
      const horse = await em.findOneOrFail(Horse, { id: horseId });
      const id = crypto.randomUUID();
      const videoKey = `orgs/${horse.organization.id}/videos/${crypto.randomUUID()}.mp4`;
      await real.putObject(videoKey, readFileSync(videos.short), 'video/mp4');
      em.create(Analysis, { id, organization: horse.organization, horse, userId: user.user.id, type: 'locomotion', credits: 1, videoKey, workflowId: analysisWorkflowId(id) } as never);
      await em.flush();
      const acts = createAnalysisActivities({ config: stack.config, orm: stack.orm, logger: stack.deps.logger, storage: slow, ai: createAiClients(stack.config) });
      const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
      env.on('heartbeat', () => downloading && beatsWhileDownloading++);
      const prepared = (await env.run(acts.prepareVideo, { analysisId: id })) as PreparedVideo;
      expect(prepared.durationSec).to.be.closeTo(4, 0.1);
      expect(beatsWhileDownloading).to.be.greaterThanOrEqual(2);
      expect(downloads).to.equal(1);
      // The analysis works on its own copy, not on the upload key.
      expect(await real.head(`${analysisPrefix(horse.organization.id, id)}video.mp4`)).to.not.equal(null);
      downloads = 0;
      const { frameKeys } = (await env.run(acts.extractFrames, { analysisId: id, count: 3 })) as { frameKeys: string[] };
      expect(frameKeys).to.have.length(3);
      expect(downloads).to.equal(1);
      await acts.failAnalysis({ analysisId: id, status: 'canceled', errorType: 'Canceled', error: 'test done' });
      expect(await real.head(frameKeys[0])).to.equal(null);
    });

    it('emails and notifies exactly once when completeAnalysis commits and then its attempt fails (worker died before reporting)', async function () {
      this.timeout(90_000);
      const { user, token, horseId } = await owner('Retried');
      const videoKey = await uploadVideo(api, token, await uniqueVideo());
      const em = stack.orm.em.fork();
      const horse = await em.findOneOrFail(Horse, { id: horseId });
      const id = crypto.randomUUID();
      await em.transactional(async (tx) => {
        tx.create(Analysis, { id, organization: horse.organization, horse, userId: user.user.id, type: 'locomotion', credits: 1, videoKey, workflowId: analysisWorkflowId(id) } as never);
        await tx.flush();
        await reserveCredits(tx, user.user.id, 1, analysisReservationKey(id), 'test');
      });
      const c = stack.config;
      const acts = await loadQueueActivities('analysis', {
        config: c,
        orm: stack.orm,
        logger: stack.deps.logger,
        mailer: new ResendMailer(c.RESEND_API_KEY!, c.EMAIL_FROM, c.RESEND_BASE_URL),
        storage: stack.storage,
        ai: createAiClients(c),
        stripe: null,
      });
      const realComplete = acts.completeAnalysis;
      let attempts = 0;
      acts.completeAnalysis = async (input) => {
        const out = await realComplete(input);
        if (++attempts === 1) throw new Error('worker lost after the commit');
        return out;
      };
      const taskQueue = uniqueQueue('analysis-commit-then-throw');
      const connection = await NativeConnection.connect({ address: c.TEMPORAL_ADDRESS });
      try {
        const worker = await Worker.create({ connection, namespace: c.TEMPORAL_NAMESPACE, taskQueue, workflowBundle: await workflowBundle(), activities: acts });
        const client = await stack.temporal.client();
        const out = await worker.runUntil(
          client.workflow.execute(analyzeVideo, { taskQueue, workflowId: analysisWorkflowId(id), args: [{ analysisId: id, userId: user.user.id, type: 'locomotion' }] }),
        );
        expect(out.status).to.equal('completed');
      } finally {
        await connection.close();
      }
      expect(attempts).to.equal(2);
      const txs = await stack.orm.em.fork().find(CreditTransaction, { key: { $like: `analysis:${id}:%` } });
      expect(txs.map((t) => t.kind).sort()).to.deep.equal(['commit', 'reserve']);
      expect(emailsTo(user.email).filter((m) => m.subject.includes('analysis of Retried is ready'))).to.have.length(1);
      expect(await stack.orm.em.fork().count(Notification, { userId: user.user.id, kind: 'analysis.completed' })).to.equal(1);
      // The analysis' own video copy and its frames are gone once it ended.
      const local = stack.storage as LocalStorage;
      expect(await local.head(`${analysisPrefix(horse.organization.id, id)}video.mp4`)).to.equal(null);
    });
  });
});
