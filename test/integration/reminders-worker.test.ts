import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, registerUser } from '../support/http';
import { logDir } from '../support/infra';
import { waitFor } from '../support/wait';
import { startService, type Service } from '../../scripts/lib/process';
import { dayOf, plusDays } from '../../domain/health';
import { healthWorkflowId } from '../../workflows/ids';

/**
 * The reminders-only worker: the real entrypoint (`node --import tsx workers/main.ts`) with
 * WORKER_QUEUES=gestation,health, run with a module-resolution hook that logs every module
 * the process loads (test/fixtures/import-log.mjs). It runs a real horse's health reminders
 * workflow (its activities work), and never loads the other features' activity modules nor
 * the AI and Stripe SDKs. A WORKER_TUNING the SDK would silently clamp stops it at start.
 */
describe('reminders-only worker (WORKER_QUEUES=gestation,health)', () => {
  let stack: TestStack;
  const children: Service[] = [];

  before(async function () {
    this.timeout(180_000);
    stack = await startTestStack({ workers: false });
  });
  after(async function () {
    this.timeout(60_000);
    for (const c of children) await c.stop(5000);
    await stack?.close();
  });

  function startWorker(name: string, env: Record<string, string> = {}) {
    const c = stack.config;
    const logFile = join(logDir, `${name}.log`);
    const importLog = join(logDir, `${name}.imports`);
    const service = startService(name, process.execPath, ['--import', 'tsx', '--import', './test/fixtures/import-log.mjs', 'workers/main.ts'], {
      env: {
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        WORKER_QUEUES: 'gestation,health',
        DATABASE_URL: c.DATABASE_URL,
        TEMPORAL_ADDRESS: c.TEMPORAL_ADDRESS,
        TEMPORAL_NAMESPACE: c.TEMPORAL_NAMESPACE,
        STORAGE_DIR: c.STORAGE_DIR,
        RESEND_API_KEY: c.RESEND_API_KEY!,
        RESEND_BASE_URL: c.RESEND_BASE_URL!,
        IMPORT_LOG: importLog,
        ...env,
      },
      logFile,
    });
    children.push(service);
    return { service, logFile, importLog };
  }

  it('runs a horse’s health reminders with only the gestation and health activity modules loaded', async function () {
    this.timeout(240_000);
    const { service, logFile, importLog } = startWorker('reminders-worker');
    await waitFor(
      `the reminders worker to poll (log: ${logFile})`,
      () => {
        if (service.child.exitCode !== null) throw new Error(`worker exited with ${service.child.exitCode}: ${readFileSync(logFile, 'utf8')}`);
        return existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"msg":"workers running"');
      },
      { timeoutMs: 150_000 },
    );

    // A real record starts the horse's workflow on the health queue, which only this worker polls.
    const api = apiClient(stack.baseUrl);
    const reg = await registerUser(api);
    const horse = await api.post('/api/horses', { name: 'Sleeper', gender: 'mare' }, reg.accessToken);
    expect(horse.status, JSON.stringify(horse.body)).to.equal(201);
    const record = await api.post(`/api/horses/${horse.body.id}/health/records`, { kind: 'farrier', date: plusDays(dayOf(Date.now()), -3), details: { work: 'trim' } }, reg.accessToken);
    expect(record.status, JSON.stringify(record.body)).to.equal(201);
    const client = await stack.temporal.client();
    await waitFor(
      'the worker to run loadHealthReminders for the horse',
      async () => {
        const history = await client.workflow.getHandle(healthWorkflowId(horse.body.id)).fetchHistory();
        return (history.events ?? []).some((e) => e.activityTaskCompletedEventAttributes);
      },
      { timeoutMs: 60_000 },
    );

    const loaded = readFileSync(importLog, 'utf8').split('\n').filter(Boolean);
    const ours = (path: string) => loaded.some((u) => u.includes(path));
    // Positive control: the hook saw the dynamic imports of the polled queues' activities.
    expect(ours('/activities/health/index.ts'), 'health activities loaded').to.equal(true);
    expect(ours('/activities/gestation/index.ts'), 'gestation activities loaded').to.equal(true);
    for (const other of ['/activities/analysis/', '/activities/billing/', '/activities/accounts/', '/activities/marketplace/', '/adapters/ai/', '/adapters/stripe/', '/node_modules/openai/', '/node_modules/@anthropic-ai/', '/node_modules/stripe/']) {
      expect(loaded.filter((u) => u.includes(other)), `${other} not loaded`).to.deep.equal([]);
    }
  });

  it('stops at start when WORKER_TUNING gives a reminder queue more workflow slots than cached workflows', async function () {
    this.timeout(120_000);
    const { service, logFile } = startWorker('reminders-worker-bad-tuning', { WORKER_TUNING: '{"health":{"maxConcurrentWorkflowTaskExecutions":500}}' });
    expect(await service.exited).to.equal(78);
    expect(readFileSync(logFile, 'utf8')).to.include('WORKER_TUNING: health.maxConcurrentWorkflowTaskExecutions (500) cannot exceed health.maxCachedWorkflows (20)');
  });
});
