import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Connection, Client } from '@temporalio/client';
import { freePort, isPortOpen } from '../../scripts/lib/ports';
import { apiClient, eventually, uniqueEmail } from '../support/http';
import { welcomeWorkflowId } from '../../workflows/ids';

/**
 * README command one, for real: the dev stack as a child process on free ports and a
 * fresh data folder. It must come up healthy, run a workflow, stop cleanly on SIGINT, and
 * keep its data for the next start.
 */
describe('dev stack (README command one)', function () {
  this.timeout(300_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'horse-tempo-dev-e2e-'));
  let ports: { api: number; pg: number; temporal: number; ui: number };
  let output = '';

  function start(): ChildProcess {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev-stack.ts'], {
      env: {
        ...process.env,
        HORSE_TEMPO_DATA_DIR: dataDir,
        PORT: String(ports.api),
        DEV_POSTGRES_PORT: String(ports.pg),
        DEV_TEMPORAL_PORT: String(ports.temporal),
        DEV_TEMPORAL_UI_PORT: String(ports.ui),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    return child;
  }
  const ready = () => eventually(async () => output.includes('[dev] Ctrl-C stops everything.'), 180_000, `dev stack ready; output so far:\n${output}`);
  async function stop(child: ChildProcess): Promise<number | null> {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    return exited;
  }

  before(async () => {
    ports = { api: await freePort(), pg: await freePort(), temporal: await freePort(), ui: await freePort() };
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts healthy with the Temporal UI, runs the welcome workflow on register, stops cleanly, and keeps its data', async () => {
    const api = apiClient(`http://127.0.0.1:${ports.api}`);
    const email = uniqueEmail('dev');
    let child = start();
    try {
      await ready();
      // On a loaded machine the first Temporal check can exceed its 2 s budget: poll.
      let health = await api.get('/api/health');
      await eventually(async () => (health = await api.get('/api/health')).status === 200, 60_000, 'a healthy stack').catch(() => {});
      expect(health.status, JSON.stringify(health.body)).to.equal(200);
      expect(health.body.checks.database.status).to.equal('ok');
      expect(health.body.checks.temporal.status).to.equal('ok');
      const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
      expect(ui.status).to.equal(200);

      const reg = await api.post('/api/auth/register', { email, password: 'Str0ngPassw0rd', firstName: 'Dev', lastName: 'Stack' });
      expect(reg.status).to.equal(201);
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
      try {
        const handle = new Client({ connection }).workflow.getHandle(welcomeWorkflowId(reg.body.user.id));
        expect(await handle.result()).to.deep.equal({ emailed: true });
      } finally {
        await connection.close();
      }
    } finally {
      expect(await stop(child)).to.equal(0);
    }
    for (const port of Object.values(ports)) expect(await isPortOpen(port), `port ${port} still open`).to.equal(false);
    expect(output).to.contain('[dev] stopped PostgreSQL');

    output = '';
    child = start();
    try {
      await ready();
      // The account from the first run is still there: same data folder, same database.
      const login = await api.post('/api/auth/login', { email, password: 'Str0ngPassw0rd' });
      expect(login.status).to.equal(200);
    } finally {
      expect(await stop(child)).to.equal(0);
    }
  });
});
