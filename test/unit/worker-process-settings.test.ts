import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { WORKER_PROCESS_ENV } from '../../workers/process-settings';

/**
 * The workers' process settings (MALLOC_ARENA_MAX, V8 flags) cannot be set from inside node,
 * so the deployment files carry them, and the benches measure the compiled worker with
 * workers/process-settings.ts. This keeps every worker of both files and the benches the same.
 * (deployment-files.test.ts renders and validates both files with the real tools.)
 */
const unquote = (v: string) => v.trim().replace(/^"(.*)"$/, '$1');

function k8sWorkers(): Record<string, Record<string, string>> {
  const workers: Record<string, Record<string, string>> = {};
  for (const doc of readFileSync('k8s/base/workers.yaml', 'utf8').split(/^---$/m)) {
    if (!/^kind: Deployment$/m.test(doc)) continue;
    const name = /^ {2}name: (\S+)$/m.exec(doc)![1];
    workers[name] = Object.fromEntries([...doc.matchAll(/- \{ name: (\w+), value: ("[^"]*"|[^ }]+) \}/g)].map((m) => [m[1], unquote(m[2])]));
  }
  return workers;
}

function composeWorkers(): Record<string, Record<string, string>> {
  const text = readFileSync('docker-compose.yml', 'utf8');
  const workers: Record<string, Record<string, string>> = {};
  for (const m of text.matchAll(/^ {2}(worker-[\w-]+):\n/gm)) {
    const service = text.slice(m.index + 1).split(/\n {2}(?=\S)/)[0];
    workers[m[1]] = Object.fromEntries([...service.matchAll(/^ {6}(\w+): (.+)$/gm)].map((e) => [e[1], unquote(e[2])]));
  }
  return workers;
}

describe('worker process settings', () => {
  it('every k8s worker Deployment sets exactly the measured process settings', () => {
    const workers = k8sWorkers();
    expect(Object.keys(workers)).to.include.members(['worker-analysis', 'worker-accounts-billing', 'worker-timers', 'worker-marketplace']);
    for (const [name, env] of Object.entries(workers)) {
      expect(env.WORKER_QUEUES, `${name} WORKER_QUEUES`).to.be.a('string');
      for (const [key, value] of Object.entries(WORKER_PROCESS_ENV)) expect(env[key], `${name} ${key}`).to.equal(value);
    }
  });

  it('every docker-compose worker service sets exactly the measured process settings', () => {
    const workers = composeWorkers();
    expect(Object.keys(workers)).to.include.members(['worker-analysis', 'worker-accounts-billing', 'worker-timers', 'worker-marketplace']);
    for (const [name, env] of Object.entries(workers)) {
      expect(env.WORKER_QUEUES, `${name} WORKER_QUEUES`).to.be.a('string');
      for (const [key, value] of Object.entries(WORKER_PROCESS_ENV)) expect(env[key], `${name} ${key}`).to.equal(value);
    }
  });

  it('the reminders group (worker-timers) still polls gestation and health', () => {
    expect(k8sWorkers()['worker-timers'].WORKER_QUEUES).to.include('health').and.to.include('gestation');
    expect(composeWorkers()['worker-timers'].WORKER_QUEUES).to.include('health').and.to.include('gestation');
  });

  it('names only settings glibc and node read at start, with values they accept', () => {
    expect(Number(WORKER_PROCESS_ENV.MALLOC_ARENA_MAX)).to.be.within(1, 8);
    // V8 flags node allows in NODE_OPTIONS (others stop node at start: "is not allowed in NODE_OPTIONS").
    for (const f of WORKER_PROCESS_ENV.NODE_OPTIONS.split(' ')) expect(f).to.match(/^--(max-semi-space-size|max-old-space-size)=\d+$/);
  });
});
