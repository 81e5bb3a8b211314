import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { REMINDERS_WORKER_PROCESS_ENV } from '../../workers/process-settings';

/**
 * The reminders worker group's process settings (MALLOC_ARENA_MAX, V8 flags) cannot be set
 * from inside node, so the deployment files carry them, and the sleeping-workflow benches
 * measure the worker with workers/process-settings.ts. This keeps the three the same.
 * (deployment-files.test.ts renders and validates both files with the real tools.)
 */
const unquote = (v: string) => v.trim().replace(/^"(.*)"$/, '$1');

describe('reminders worker process settings', () => {
  it('k8s worker-timers sets exactly the measured process settings', () => {
    const timers = readFileSync('k8s/base/workers.yaml', 'utf8')
      .split(/^---$/m)
      .find((doc) => /^kind: Deployment$/m.test(doc) && /^ {2}name: worker-timers$/m.test(doc));
    expect(timers, 'the worker-timers Deployment').to.be.a('string');
    const env = Object.fromEntries([...timers!.matchAll(/- \{ name: (\w+), value: ("[^"]*"|[^ }]+) \}/g)].map((m) => [m[1], unquote(m[2])]));
    expect(env.WORKER_QUEUES).to.include('health').and.to.include('gestation');
    for (const [name, value] of Object.entries(REMINDERS_WORKER_PROCESS_ENV)) expect(env[name], name).to.equal(value);
  });

  it('docker-compose worker-timers sets exactly the measured process settings', () => {
    const text = readFileSync('docker-compose.yml', 'utf8');
    const start = text.indexOf('\n  worker-timers:\n');
    expect(start, 'the worker-timers service').to.be.greaterThan(0);
    const service = text.slice(start + 1).split(/\n {2}(?=\S)/)[0];
    const env = Object.fromEntries([...service.matchAll(/^ {6}(\w+): (.+)$/gm)].map((m) => [m[1], unquote(m[2])]));
    expect(env.WORKER_QUEUES).to.include('health').and.to.include('gestation');
    for (const [name, value] of Object.entries(REMINDERS_WORKER_PROCESS_ENV)) expect(env[name], name).to.equal(value);
  });

  it('names only settings glibc and node read at start, with values they accept', () => {
    expect(Number(REMINDERS_WORKER_PROCESS_ENV.MALLOC_ARENA_MAX)).to.be.within(1, 8);
    // V8 flags node allows in NODE_OPTIONS (others stop node at start: "is not allowed in NODE_OPTIONS").
    for (const f of REMINDERS_WORKER_PROCESS_ENV.NODE_OPTIONS.split(' ')) expect(f).to.match(/^--(max-semi-space-size|max-old-space-size)=\d+$/);
  });
});
