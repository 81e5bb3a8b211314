import type { Server } from 'node:http';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, registerUser, type ApiClient } from '../support/http';
import { createApp } from '../../api/app';
import { redactCapabilityUrl } from '../../api/http/request-log';

const METRICS_TOKEN = 'metrics-token-for-the-leaks-test';

describe('What the API lets out: metrics, logs, error bodies (integration)', function () {
  this.timeout(60_000);
  let stack: TestStack;
  let api: ApiClient;
  /** The same app and dependencies, with its request log captured in memory. */
  let logged: string[];
  let loggedServer: Server;
  let loggedApi: ApiClient;

  before(async () => {
    stack = await startTestStack({ workers: false, env: { METRICS_TOKEN } });
    api = apiClient(stack.baseUrl);
    logged = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged.push(String(chunk));
        done();
      },
    });
    const app = createApp({ ...stack.deps, logger: pino({ level: 'debug' }, sink) });
    loggedServer = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const addr = loggedServer.address();
    loggedApi = apiClient(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`);
  });
  after(async () => {
    await new Promise((resolve) => loggedServer?.close(resolve));
    await stack?.close();
  });

  describe('/metrics', () => {
    it('answers 401 without the bearer token and with a wrong one, and the metrics with the right one', async () => {
      const none = await api.get('/metrics');
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
      expect(none.body).to.include({ statusCode: 401 });
      expect(JSON.stringify(none.body)).not.to.contain('http_requests_total');
      const wrong = await api.call('GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
      expect(wrong.status).to.equal(401);
      const right = await api.call('GET', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(right.status).to.equal(200);
      expect(right.body).to.contain('http_requests_total');
    });
  });

  describe('upload capability tokens', () => {
    it('redacts the token segment of upload URLs and nothing else', () => {
      expect(redactCapabilityUrl('/api/uploads/eyJhbGciOi.abc.def?x=1')).to.equal('/api/uploads/[redacted]?x=1');
      expect(redactCapabilityUrl('/api/uploads/tok/extra')).to.equal('/api/uploads/[redacted]/extra');
      expect(redactCapabilityUrl('/api/uploads')).to.equal('/api/uploads');
      expect(redactCapabilityUrl('/api/horses/123')).to.equal('/api/horses/123');
      expect(redactCapabilityUrl('/api/health/shared/abc_DEF-123')).to.equal('/api/health/shared/[redacted]');
      expect(redactCapabilityUrl('/api/health/calendar/abc.ics')).to.equal('/api/health/calendar/[redacted]');
    });

    it('keeps the token of PUT /api/uploads/:token out of the request log (success and refusal)', async () => {
      const { accessToken } = await registerUser(loggedApi);
      const target = await loggedApi.post('/api/uploads', { contentType: 'video/mp4', size: 4 }, accessToken);
      expect(target.status).to.equal(201);
      const url = new URL(target.body.uploadUrl);
      const token = decodeURIComponent(url.pathname.split('/').pop()!);
      expect(token.length).to.be.greaterThan(20);
      const path = `${url.pathname}`;
      const ok = await loggedApi.call('PUT', path, { raw: Buffer.from('abcd'), headers: { 'content-type': 'video/mp4' } });
      expect(ok.status).to.equal(200);
      const again = await loggedApi.call('PUT', path, { raw: Buffer.from('abcd'), headers: { 'content-type': 'video/mp4' } });
      expect(again.status).to.equal(409);
      const uploadLines = logged.filter((l) => l.includes('/api/uploads/'));
      expect(uploadLines.length, 'the PUTs were logged').to.be.at.least(2);
      for (const line of logged) expect(line).not.to.contain(token.slice(0, 20));
      expect(uploadLines.join('\n')).to.contain('/api/uploads/[redacted]');
    });
  });
});
