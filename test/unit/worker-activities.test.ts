import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { loadConfig } from '../../config';
import { QUEUE_ACTIVITIES, type WorkerDeps } from '../../workers/activities';
import { queueSettingsProblems, queueWorkerOptions } from '../../workers/run';
import { ALL_TASK_QUEUES, type TaskQueue } from '../../workflows/queues';

/**
 * Every queue's Worker registers only its own queue's activities (workers/activities.ts),
 * so each activity a workflow calls must be in the loader of the queue it runs on (the
 * workflows of workflows/<queue>/ run on that queue: their client.ts and schedules say so).
 * The names are read from the workflow sources: `const { a, b } = proxyActivities<…>` and
 * `const x = proxyActivities<…>` followed by `x.name(`.
 */
function activitiesCalledIn(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/const\s*\{([^}]+)\}\s*=\s*proxyActivities\b/g)) for (const n of m[1].split(',')) names.add(n.trim().split(/\s*:/)[0]);
  for (const m of source.matchAll(/const\s+(\w+)\s*=\s*proxyActivities\b/g)) for (const call of source.matchAll(new RegExp(`\\b${m[1]}\\.(\\w+)\\(`, 'g'))) names.add(call[1]);
  return [...names].filter(Boolean);
}

describe('worker activities per queue', () => {
  // Never called: the factories only close over their deps, the test reads the names.
  const deps = { config: loadConfig({}), orm: {}, logger: {}, mailer: {}, storage: {}, ai: {}, stripe: null } as unknown as WorkerDeps;
  const loaded = new Map<TaskQueue, string[]>();
  before(async function () {
    this.timeout(60_000);
    for (const q of ALL_TASK_QUEUES) loaded.set(q, Object.keys(await QUEUE_ACTIVITIES[q](deps)));
  });

  for (const queue of ALL_TASK_QUEUES) {
    it(`${queue}: every activity its workflows call is registered on the ${queue} queue`, () => {
      const dir = `workflows/${queue}`;
      const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
      const called = files.flatMap((f) => activitiesCalledIn(readFileSync(`${dir}/${f}`, 'utf8')).map((name) => ({ file: f, name })));
      expect(called.length, `activity calls found in ${dir}`).to.be.above(0);
      const missing = called.filter((c) => !loaded.get(queue)!.includes(c.name));
      expect(missing, 'activities called but not registered on the queue').to.deep.equal([]);
    });
  }

  it('negative control: a call to another queue’s activity is reported', () => {
    const called = activitiesCalledIn(`const { loadGestation } = proxyActivities<X>({});\nconst media = proxyActivities<Y>({});\nawait media.probeVideo(1);`);
    expect(called).to.have.members(['loadGestation', 'probeVideo']);
    expect(loaded.get('health')).to.not.include('loadGestation');
    expect(loaded.get('health')).to.not.include('probeVideo');
  });

  it('a worker without an adapter its queue needs fails at start naming it', async () => {
    const { storage: _storage, ...withoutStorage } = deps;
    await QUEUE_ACTIVITIES.health(withoutStorage).then(
      () => expect.fail('loaded without storage'),
      (err: Error) => expect(err.message).to.match(/health activities need the storage adapter/),
    );
  });
});

describe('queue settings checked at worker start (WORKER_TUNING over our defaults)', () => {
  it('accepts the defaults and consistent tuning', () => {
    for (const q of ALL_TASK_QUEUES) expect(queueSettingsProblems(q), q).to.deep.equal([]);
    expect(queueSettingsProblems('health', { health: { maxCachedWorkflows: 50, maxConcurrentWorkflowTaskExecutions: 20 } })).to.deep.equal([]);
  });
  it('refuses more workflow slots than cached workflows (the default cache of the queue counts) and a cache of 1', () => {
    expect(queueSettingsProblems('health', { health: { maxConcurrentWorkflowTaskExecutions: 21 } })).to.deep.equal([
      'health.maxConcurrentWorkflowTaskExecutions (21) cannot exceed health.maxCachedWorkflows (20): raise the cache or lower the slots',
    ]);
    expect(queueSettingsProblems('gestation', { gestation: { maxCachedWorkflows: 1 } })[0]).to.match(/gestation\.maxCachedWorkflows must be 0 .* or at least 2/);
    expect(queueSettingsProblems('health', { health: { maxCachedWorkflows: 0, maxConcurrentWorkflowTaskExecutions: 200 } }), 'no cache: any slots').to.deep.equal([]);
  });
  it('gives a small cache as many workflow-task slots as cached workflows, so the SDK never clamps them with a warning', async () => {
    const bundle = { queueBundle: { code: '' } };
    const slots = async (queue: TaskQueue, tuning = {}) => {
      const o = await queueWorkerOptions(queue, { ...bundle, tuning });
      return [o.maxCachedWorkflows, o.maxConcurrentWorkflowTaskExecutions];
    };
    expect(await slots('health')).to.deep.equal([20, 20]);
    expect(await slots('gestation')).to.deep.equal([20, 20]);
    expect(await slots('marketplace'), 'a cache above the SDK default keeps 40 slots').to.deep.equal([250, 40]);
    expect(await slots('health', { health: { maxCachedWorkflows: 8 } }), 'a tuned cache').to.deep.equal([8, 8]);
    expect(await slots('health', { health: { maxCachedWorkflows: 50, maxConcurrentWorkflowTaskExecutions: 30 } }), 'tuned slots win').to.deep.equal([50, 30]);
    expect(await slots('health', { health: { maxCachedWorkflows: 0 } }), 'no cache: SDK default slots').to.deep.equal([0, undefined]);
    expect(await slots('analysis'), 'busy queues keep the SDK defaults').to.deep.equal([undefined, undefined]);
  });
});
