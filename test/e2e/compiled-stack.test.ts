import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import pg from 'pg';
import { startService, type Service } from '../../scripts/lib/process';
import { freePort, waitForPort } from '../../scripts/lib/ports';
import { logDir, testAnthropic, testDatabase, testOpenAi, testResend, testTemporal } from '../support/infra';
import { apiClient, eventually, registerVerifiedUser, uniqueEmail } from '../support/http';
import { createHorse, uploadVideo, waitForAnalysis } from '../support/analysis';
import { generateTestVideo } from '../../adapters/media/generate';

const run = promisify(execFile);

/**
 * The production build for real: `npm run build`, then `npm run start:migrate` on an empty
 * database, `npm run start:worker` and `npm start` (plain node on dist/, no tsx, the
 * prebuilt workflow bundle), and the newcomer flow through them: register, add a horse,
 * upload a video, analyse it.
 */
describe('compiled stack (npm run build, npm start)', function () {
  this.timeout(240_000);
  const storageDir = mkdtempSync(join(tmpdir(), 'horse-tempo-compiled-'));
  const services: Service[] = [];
  let base = '';
  let databaseUrl = '';
  let output = '';

  /** The child environment: no NODE_OPTIONS, so nothing (tsx) is preloaded into the compiled processes. */
  function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    delete env.NODE_OPTIONS;
    return env;
  }

  before(async () => {
    const build = await run('npm', ['run', '--silent', 'build'], { env: childEnv({}) });
    expect(build.stdout).to.contain('built dist/');
    for (const file of ['api.js', 'worker.js', 'migrate.js', 'workflow-bundle.js', 'workflow-bundle-gestation.js', 'workflow-bundle-health.js']) expect(existsSync(join('dist', file)), file).to.equal(true);

    // A database of its own, empty, so the compiled migrations are what creates the schema.
    const { url } = await testDatabase();
    const name = `horse_tempo_compiled_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    databaseUrl = url.replace(/\/[^/]+$/, `/${name}`);
  });

  after(async () => {
    for (const s of services.reverse()) await s.stop(10_000);
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('migrates, starts the compiled API and worker, and runs register → horse → upload → analysis', async () => {
    const [temporal, anthropic, openai, resend] = await Promise.all([testTemporal(), testAnthropic(), testOpenAi(), testResend()]);
    const port = await freePort();
    const env = childEnv({
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      JWT_SECRET: randomBytes(32).toString('hex'),
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      STORAGE_DRIVER: 'local',
      STORAGE_DIR: storageDir,
      ANTHROPIC_API_KEY: 'sandbox-anthropic-key',
      ANTHROPIC_BASE_URL: anthropic.baseURL,
      OPENAI_API_KEY: 'sandbox-openai-key',
      OPENAI_BASE_URL: openai.baseURL,
      // The verification link reaches the test through the Resend stand-in.
      RESEND_API_KEY: 're_test_key',
      RESEND_BASE_URL: resend.url,
      HOST: '127.0.0.1',
      PORT: String(port),
    });

    const migrate = await run('npm', ['run', '--silent', 'start:migrate'], { env });
    expect(migrate.stdout).to.match(/^applied: Migration\d+_foundation/m);

    const worker = startService('compiled worker', 'npm', ['run', '--silent', 'start:worker'], { env, logFile: join(logDir, 'compiled-worker.log'), processGroup: true });
    services.push(worker);
    const api = startService('compiled API', 'npm', ['run', '--silent', 'start'], { env, processGroup: true });
    services.push(api);
    api.child.stdout!.on('data', (d) => (output += d));
    api.child.stderr!.on('data', (d) => (output += d));
    await Promise.race([
      waitForPort(port, 'compiled API', 60_000),
      api.exited.then((code) => {
        throw new Error(`compiled API exited with ${code}: ${output}`);
      }),
    ]);
    base = `http://127.0.0.1:${port}`;
    const client = apiClient(base);
    await eventually(async () => (await client.get('/api/health')).status === 200, 60_000, 'a healthy compiled API');

    // Verified through the emailed link: unverified accounts cannot spend credits.
    const reg = await registerVerifiedUser(client, resend, { email: uniqueEmail('compiled'), firstName: 'New', lastName: 'Comer' });
    const token = reg.accessToken;
    const horseId = await createHorse(client, token, 'Compiled Star');
    const clip = join(storageDir, 'clip.mp4');
    await generateTestVideo(clip, { seconds: 3, width: 320, height: 240 });
    const videoKey = await uploadVideo(client, token, clip);
    const started = await client.post('/api/analyses', { horseId, type: 'locomotion', videoKey }, token);
    expect(started.status, JSON.stringify(started.body)).to.equal(202);
    const done = await waitForAnalysis(client, token, started.body.id, 90_000);
    expect(done, JSON.stringify(done)).to.include({ status: 'completed', provider: 'anthropic' });
    expect(done.result.categories.length).to.be.greaterThan(0);
    expect(anthropic.requestsFor(started.body.id)).to.have.length(1);
  });
});
