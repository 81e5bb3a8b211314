import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Connection } from '@temporalio/client';
import { loadConfig, ConfigError } from '../../config';
import { temporalConnectionSettings } from '../../adapters/temporal/connection';
import { testTemporal } from '../support/infra';

/** A throwaway CA, a server certificate for temporal.test and a client certificate, made with openssl. */
function makeCertificates(dir: string) {
  const sh = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Horse Tempo test CA');
  for (const [name, cn, ext] of [
    ['server', 'temporal.test', 'subjectAltName=DNS:temporal.test\nextendedKeyUsage=serverAuth'],
    ['client', 'horse-tempo-worker', 'extendedKeyUsage=clientAuth'],
  ]) {
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    sh('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    sh('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  }
  return { ca: join(dir, 'ca.pem'), crt: join(dir, 'client.pem'), key: join(dir, 'client.key'), serverCrt: join(dir, 'server.pem'), serverKey: join(dir, 'server.key') };
}

describe('Temporal connection settings (TLS, API key, worker tuning)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'horse-tempo-tls-'));
  const certs = makeCertificates(dir);
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('connects in plain gRPC by default (the dev server)', () => {
    const settings = temporalConnectionSettings(loadConfig({}));
    expect(settings).to.deep.equal({ address: '127.0.0.1:7233' });
  });

  it('turns TLS on for an API key (Temporal Cloud) and sends the key', () => {
    const settings = temporalConnectionSettings(loadConfig({ TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233', TEMPORAL_API_KEY: 'key-123' }));
    expect(settings).to.deep.equal({ address: 'eu-west-1.aws.api.temporal.io:7233', tls: {}, apiKey: 'key-123' });
  });

  it('reads the CA, the client certificate pair and the SNI name for mTLS', () => {
    const settings = temporalConnectionSettings(
      loadConfig({ TEMPORAL_TLS_SERVER_CA_FILE: certs.ca, TEMPORAL_TLS_CLIENT_CERT_FILE: certs.crt, TEMPORAL_TLS_CLIENT_KEY_FILE: certs.key, TEMPORAL_TLS_SERVER_NAME: 'temporal.test' }),
    );
    expect(settings.tls).to.deep.equal({
      serverNameOverride: 'temporal.test',
      serverRootCACertificate: readFileSync(certs.ca),
      clientCertPair: { crt: readFileSync(certs.crt), key: readFileSync(certs.key) },
    });
  });

  it('refuses half a certificate pair, a missing file and TLS files with TEMPORAL_TLS=false, naming the variable', () => {
    expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_CERT_FILE: certs.crt })).to.throw(ConfigError, /TEMPORAL_TLS_CLIENT_KEY_FILE is required too/);
    expect(() => loadConfig({ TEMPORAL_TLS_CLIENT_KEY_FILE: certs.key })).to.throw(ConfigError, /TEMPORAL_TLS_CLIENT_CERT_FILE is required too/);
    expect(() => loadConfig({ TEMPORAL_TLS_SERVER_CA_FILE: join(dir, 'nope.pem') })).to.throw(ConfigError, /TEMPORAL_TLS_SERVER_CA_FILE names a file that does not exist/);
    expect(() => loadConfig({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' })).to.throw(ConfigError, /TEMPORAL_TLS is false but/);
    expect(() => loadConfig({ TEMPORAL_TLS: 'maybe' })).to.throw(ConfigError, /TEMPORAL_TLS/);
  });

  it('parses per-queue worker tuning and refuses unknown queues, unknown fields, bad JSON and one workflow slot', () => {
    const c = loadConfig({ WORKER_TUNING: '{"analysis":{"maxConcurrentActivityTaskExecutions":2,"maxCachedWorkflows":50},"gestation":{"maxConcurrentWorkflowTaskExecutions":20}}' });
    expect(c.WORKER_TUNING).to.deep.equal({ analysis: { maxConcurrentActivityTaskExecutions: 2, maxCachedWorkflows: 50 }, gestation: { maxConcurrentWorkflowTaskExecutions: 20 } });
    expect(loadConfig({}).WORKER_TUNING).to.deep.equal({});
    expect(() => loadConfig({ WORKER_TUNING: '{"reminders":{}}' })).to.throw(ConfigError, /WORKER_TUNING/);
    expect(() => loadConfig({ WORKER_TUNING: '{"analysis":{"maxActivities":2}}' })).to.throw(ConfigError, /WORKER_TUNING/);
    expect(() => loadConfig({ WORKER_TUNING: '{analysis:2}' })).to.throw(ConfigError, /WORKER_TUNING must be JSON/);
    expect(() => loadConfig({ WORKER_TUNING: '{"billing":{"maxConcurrentWorkflowTaskExecutions":1}}' })).to.throw(ConfigError, /WORKER_TUNING\.billing\.maxConcurrentWorkflowTaskExecutions/);
  });

  it("leaves Node's promise hooks off in the API's client (the SDK's per-call AsyncLocalStorage scope turned them on for every request of the process)", async function () {
    this.timeout(120_000);
    const { address } = await testTemporal();
    // A fresh process: this one may have turned them on elsewhere.
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'test/support/promise-hooks-probe.ts', address], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const result = JSON.parse(out.trim().split('\n').pop()!) as { gatewayTracks: boolean; sdkTracks: boolean; header: string };
    // The control shows the probe sees hooks: the SDK's plain Connection turns them on.
    expect(result).to.deep.equal({ gatewayTracks: false, sdkTracks: true, header: 'default' });
  });

  describe('against a TLS endpoint that requires a client certificate', function () {
    this.timeout(120_000);
    let proxy: TlsServer;
    let proxyPort = 0;

    // The dev server speaks plain gRPC only: a TLS-terminating proxy in front of it (h2 ALPN,
    // client certificate required, our CA) stands in for a secured cluster.
    before(async () => {
      const { address } = await testTemporal();
      const [host, port] = address.split(':');
      proxy = createTlsServer(
        { cert: readFileSync(certs.serverCrt), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
        (socket) => {
          const upstream = netConnect(Number(port), host);
          socket.pipe(upstream).pipe(socket);
          socket.on('error', () => upstream.destroy());
          upstream.on('error', () => socket.destroy());
        },
      );
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      proxyPort = (proxy.address() as { port: number }).port;
    });
    after(() => new Promise<void>((r) => proxy.close(() => r())));

    const settingsFor = (env: Record<string, string>) => temporalConnectionSettings(loadConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${proxyPort}`, ...env }));

    it('reaches the namespace with the configured CA, client certificate and SNI name', async () => {
      const connection = await Connection.connect({
        ...settingsFor({ TEMPORAL_TLS_SERVER_CA_FILE: certs.ca, TEMPORAL_TLS_CLIENT_CERT_FILE: certs.crt, TEMPORAL_TLS_CLIENT_KEY_FILE: certs.key, TEMPORAL_TLS_SERVER_NAME: 'temporal.test' }),
        connectTimeout: '10s',
      });
      try {
        const ns = await connection.workflowService.describeNamespace({ namespace: 'default' });
        expect(ns.namespaceInfo?.name).to.equal('default');
      } finally {
        await connection.close();
      }
    });

    it('fails without the client certificate (the proxy really checks it)', async () => {
      let failed = false;
      try {
        const connection = await Connection.connect({ ...settingsFor({ TEMPORAL_TLS_SERVER_CA_FILE: certs.ca, TEMPORAL_TLS_SERVER_NAME: 'temporal.test' }), connectTimeout: '5s' });
        await connection.workflowService.describeNamespace({ namespace: 'default' }).finally(() => connection.close());
      } catch {
        failed = true;
      }
      expect(failed).to.equal(true);
    });
  });
});
