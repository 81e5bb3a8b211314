import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, eventually, registerVerifiedUser, type ApiClient } from '../support/http';
import { createHorse, credits, uniqueVideo, uploadVideo, waitForAnalysis } from '../support/analysis';
import { logDir } from '../support/infra';
import { startService, type Service } from '../../scripts/lib/process';
import { ALL_TASK_QUEUES } from '../../workflows/queues';
import { Analysis, CreditTransaction, Notification } from '../../entities';
import { ANALYSIS_RECONCILE_SCHEDULE_ID } from '../../workers/schedules';

/**
 * The analysis worker runs as a real child process (`node --import tsx workers/main.ts`, WORKER_QUEUES=analysis)
 * while this process runs the API and the other queues. It is SIGKILLed in the middle of the
 * Claude call, a new one is started, and the analysis must end with exactly one result, one
 * credit debit and one email.
 */
describe('analysis survives a worker killed mid-analysis', () => {
  let stack: TestStack;
  let api: ApiClient;
  const children: Service[] = [];

  before(async function () {
    this.timeout(180_000);
    stack = await startTestStack({ queues: ALL_TASK_QUEUES.filter((q) => q !== 'analysis') });
    api = apiClient(stack.baseUrl);
  });
  after(async function () {
    this.timeout(60_000);
    for (const c of children) await c.stop(2000);
    stack?.anthropic.reset();
    const client = await stack?.temporal.client();
    await client?.schedule.getHandle(ANALYSIS_RECONCILE_SCHEDULE_ID).delete().catch(() => {});
    await stack?.close();
  });

  async function startAnalysisWorker(name: string): Promise<Service> {
    const logFile = join(logDir, `${name}.log`);
    const c = stack.config;
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      WORKER_QUEUES: 'analysis',
      DATABASE_URL: c.DATABASE_URL,
      TEMPORAL_ADDRESS: c.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: c.TEMPORAL_NAMESPACE,
      STORAGE_DRIVER: 'local',
      STORAGE_DIR: c.STORAGE_DIR,
      ANTHROPIC_API_KEY: c.ANTHROPIC_API_KEY!,
      ANTHROPIC_BASE_URL: c.ANTHROPIC_BASE_URL!,
      OPENAI_API_KEY: c.OPENAI_API_KEY!,
      OPENAI_BASE_URL: c.OPENAI_BASE_URL!,
      AI_SANDBOX: 'true',
      AI_TIMEOUT_SECONDS: '120',
      RESEND_API_KEY: c.RESEND_API_KEY!,
      RESEND_BASE_URL: c.RESEND_BASE_URL!,
    };
    // node --import tsx (not the tsx CLI, which forks a second process): the SIGKILL must hit the worker itself.
    const service = startService(name, process.execPath, ['--import', 'tsx', 'workers/main.ts'], { env, logFile });
    children.push(service);
    await eventually(
      async () => {
        if (service.child.exitCode !== null) throw new Error(`${name} exited with ${service.child.exitCode} (see ${logFile})`);
        return readFileSync(logFile, 'utf8').includes('"msg":"workers running"');
      },
      90_000,
      `${name} to start (log: ${logFile})`,
    );
    return service;
  }

  it('ends with exactly one result, one credit debit and one email after a SIGKILL during the Claude call and a restart', async function () {
    this.timeout(180_000);
    const first = await startAnalysisWorker('analysis-worker-1');
    const user = await registerVerifiedUser(api, stack.resend);
    const horseId = await createHorse(api, user.accessToken, 'Ourasi');
    const videoKey = await uploadVideo(api, user.accessToken, await uniqueVideo());

    stack.anthropic.script('hang');
    const res = await api.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, user.accessToken);
    expect(res.status).to.equal(202);
    const id: string = res.body.id;
    await eventually(async () => stack.anthropic.requestsFor(id).length === 1, 30_000, 'the Claude call on the first worker');

    first.child.kill('SIGKILL');
    await first.exited;
    expect(first.child.signalCode).to.equal('SIGKILL');

    await startAnalysisWorker('analysis-worker-2');
    const done = await waitForAnalysis(api, user.accessToken, id, 90_000);
    expect(done).to.include({ status: 'completed', provider: 'anthropic', fallbackUsed: false });
    expect(stack.anthropic.requestsFor(id).map((r) => r.behaviour)).to.deep.equal(['hang', 200]);

    // The row is completed before the workflow notifies: count once the workflow has closed,
    // when every activity it ran (the notice included) is done and nothing more can happen.
    const em = stack.orm.em.fork();
    const client = await stack.temporal.client();
    const run = client.workflow.getHandle((await em.findOneOrFail(Analysis, { id })).workflowId);
    expect(await run.result()).to.include({ status: 'completed' });
    const rows = await em.find(Analysis, { horse: horseId });
    expect(rows).to.have.length(1);
    expect(rows[0].result).to.not.equal(null);
    const txs = await em.find(CreditTransaction, { key: { $like: `analysis:${id}:%` } });
    expect(txs.map((t) => t.kind).sort()).to.deep.equal(['commit', 'reserve']);
    expect(await credits(api, user.accessToken)).to.deep.equal({ balance: 2, reserved: 0 });
    const emails = stack.resend.emails.filter((m) => m.to.includes(user.email) && m.subject.includes('analysis of Ourasi is ready'));
    expect(emails).to.have.length(1);
    expect(await em.count(Notification, { userId: user.user.id, kind: 'analysis.completed' })).to.equal(1);
  });
});
