import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, registerUser } from '../support/http';
import { logDir } from '../support/infra';
import { waitFor } from '../support/wait';
import { startService, type Service } from '../../scripts/lib/process';
import { freePort } from '../../scripts/lib/ports';
import { welcomeWorkflowId } from '../../workflows/ids';

/**
 * The worker's Temporal SDK metrics, scraped from a real worker process
 * (`node --import tsx workers/main.ts`, WORKER_QUEUES=accounts, WORKER_METRICS_PORT set) while
 * it runs the welcome workflow of a real registration: task slots, schedule-to-start latency
 * and the sticky cache are on its Prometheus endpoint, bound to 127.0.0.1. A second worker
 * asking for the same port stops at start with one sentence naming the setting.
 */
describe('worker metrics (Temporal SDK, Prometheus)', () => {
  let stack: TestStack;
  const children: Service[] = [];

  before(async function () {
    this.timeout(180_000);
    // The API only: the accounts queue is polled by the child worker alone.
    stack = await startTestStack({ workers: false });
  });
  after(async function () {
    this.timeout(60_000);
    for (const c of children) await c.stop(5000);
    await stack?.close();
  });

  function workerEnv(metricsPort: number): Record<string, string> {
    const c = stack.config;
    return {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      WORKER_QUEUES: 'accounts',
      WORKER_METRICS_PORT: String(metricsPort),
      DATABASE_URL: c.DATABASE_URL,
      TEMPORAL_ADDRESS: c.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: c.TEMPORAL_NAMESPACE,
      STORAGE_DIR: c.STORAGE_DIR,
      RESEND_API_KEY: c.RESEND_API_KEY!,
      RESEND_BASE_URL: c.RESEND_BASE_URL!,
    };
  }

  function startWorker(name: string, metricsPort: number): { service: Service; logFile: string } {
    const logFile = join(logDir, `${name}.log`);
    const service = startService(name, process.execPath, ['--import', 'tsx', 'workers/main.ts'], { env: workerEnv(metricsPort), logFile });
    children.push(service);
    return { service, logFile };
  }

  /** One sample's value, or undefined when no series of that name has every label given. */
  function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    for (const line of text.split('\n')) {
      const m = /^([a-z_:]+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      if (Object.entries(labels).every(([k, v]) => m[2].includes(`${k}="${v}"`))) return Number(m[3]);
    }
    return undefined;
  }

  it('serves task slots, schedule-to-start latency and sticky cache on 127.0.0.1:WORKER_METRICS_PORT, and a taken port stops a second worker in one sentence', async function () {
    this.timeout(180_000);
    const port = await freePort();
    const { service, logFile } = startWorker('metrics-worker', port);
    const url = `http://127.0.0.1:${port}/metrics`;
    await waitFor(
      `the worker to poll with its metrics endpoint up (log: ${logFile})`,
      async () => {
        if (service.child.exitCode !== null) throw new Error(`worker exited with ${service.child.exitCode}: ${readFileSync(logFile, 'utf8')}`);
        return readFileSync(logFile, 'utf8').includes('"msg":"workers running"') && (await fetch(url)).ok;
      },
      { timeoutMs: 90_000 },
    );

    // A real registration starts the welcome workflow on the accounts queue, which only this worker polls.
    const user = await registerUser(apiClient(stack.baseUrl));
    const client = await stack.temporal.client();
    expect(await client.workflow.getHandle(welcomeWorkflowId(user.user.id)).result()).to.deep.equal({ emailed: true });

    const queue = { task_queue: 'accounts', worker_queues: 'accounts' };
    const text = await waitFor(
      'the welcome run in the worker metrics',
      async () => {
        const body = await (await fetch(url)).text();
        return (sample(body, 'temporal_workflow_task_schedule_to_start_latency_count', queue) ?? 0) >= 1 && (sample(body, 'temporal_activity_schedule_to_start_latency_count', queue) ?? 0) >= 1 ? body : false;
      },
      { timeoutMs: 30_000 },
    );
    expect(sample(text, 'temporal_worker_task_slots_available', { ...queue, worker_type: 'WorkflowWorker' }), 'workflow task slots').to.be.a('number').greaterThan(0);
    expect(sample(text, 'temporal_worker_task_slots_available', { ...queue, worker_type: 'ActivityWorker' }), 'activity task slots').to.be.a('number').greaterThan(0);
    expect(sample(text, 'temporal_sticky_cache_size', { worker_queues: 'accounts' }), 'sticky cache size').to.be.a('number');
    expect(text).to.match(/^temporal_workflow_completed\{[^}]*workflow_type="welcomeWorkflow"[^}]*\} [1-9]/m);

    // The same port again: the second worker stops before polling, with one sentence and no stack trace.
    const second = startWorker('metrics-worker-same-port', port);
    expect(await second.service.exited).to.equal(78);
    const output = readFileSync(second.logFile, 'utf8').trim();
    expect(output).to.match(new RegExp(`^WORKER_METRICS_PORT ${port} on WORKER_METRICS_HOST 127\\.0\\.0\\.1 cannot be bound \\(Address already in use.*\\): choose a free port, or an address of this machine\\.$`, 'm'));
    expect(output).not.to.match(/^\s+at /m);
  });
});
