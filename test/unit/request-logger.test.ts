import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import pino from 'pino';
import { requestLogger } from '../../api/http/request-logger';

/** A real Express app with the request logger, its log lines kept in memory. */
async function appLoggingAt(level: string): Promise<{ url: string; lines: () => Record<string, any>[]; close: () => Promise<void> }> {
  const written: string[] = [];
  const logger = pino({ level, redact: { paths: ['req.headers.authorization'], censor: '[redacted]' } }, { write: (chunk: string) => void written.push(chunk) });
  const app = express();
  app.use(requestLogger(logger));
  const router = express.Router();
  router.get('/horses/:id', (req, res) => {
    if (req.params.id === 'noisy') req.log.info({ step: 1 }, 'inside the route');
    res.json({ id: req.params.id });
  });
  router.get('/boom', (_req, res) => void res.status(500).json({}));
  app.use('/api', router);
  app.put('/api/uploads/:token', (_req, res) => void res.status(404).json({}));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    lines: () => written.map((l) => JSON.parse(l)),
    close: () => new Promise((resolve) => void server.close(() => resolve())),
  };
}

describe('request logger (api/http/request-logger.ts)', () => {
  it('answers with the request id: the caller’s when well-formed, else a new UUID', async () => {
    const app = await appLoggingAt('info');
    try {
      const given = await fetch(`${app.url}/api/horses/1`, { headers: { 'x-request-id': 'trace-42' } });
      expect(given.headers.get('x-request-id')).to.equal('trace-42');
      const bad = await fetch(`${app.url}/api/horses/1`, { headers: { 'x-request-id': 'has spaces' } });
      expect(bad.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    } finally {
      await app.close();
    }
  });

  it('writes nothing for a success at level info, and one error line with req and res for a 500', async () => {
    const app = await appLoggingAt('info');
    try {
      await (await fetch(`${app.url}/api/horses/1`)).text();
      await (await fetch(`${app.url}/api/boom`, { headers: { authorization: 'Bearer secret', 'x-request-id': 'r-500' } })).text();
      const lines = app.lines();
      expect(lines, JSON.stringify(lines)).to.have.length(1);
      const [line] = lines;
      expect(line).to.include({ level: 50, msg: 'request errored' });
      expect(line.req).to.include({ id: 'r-500', method: 'GET', url: '/api/boom' });
      expect(line.req.headers.authorization).to.equal('[redacted]');
      expect(line.res.statusCode).to.equal(500);
      expect(line.err.message).to.equal('failed with status code 500');
      expect(line.responseTime).to.be.a('number');
    } finally {
      await app.close();
    }
  });

  it('binds the request as it arrived to lines written by routes, and to the success line at level debug', async () => {
    const app = await appLoggingAt('debug');
    try {
      await (await fetch(`${app.url}/api/horses/noisy?full=1`, { headers: { 'x-request-id': 'r-1' } })).text();
      const [inside, done] = app.lines();
      expect(inside).to.include({ level: 30, msg: 'inside the route', step: 1 });
      // The original URL (not the router's mount-relative one) and the query.
      expect(inside.req).to.deep.include({ id: 'r-1', url: '/api/horses/noisy?full=1', query: { full: '1' } });
      expect(done).to.include({ level: 20, msg: 'request completed' });
      expect(done.req).to.deep.equal(inside.req);
      expect(done.res.statusCode).to.equal(200);
    } finally {
      await app.close();
    }
  });

  it('keeps capability tokens in paths out of the request line', async () => {
    const app = await appLoggingAt('info');
    try {
      await (await fetch(`${app.url}/api/uploads/SECRET-TOKEN-123?part=2`, { method: 'PUT' })).text();
      const [line] = app.lines();
      expect(line.req.url).to.equal('/api/uploads/[redacted]?part=2');
      expect(JSON.stringify(app.lines())).not.to.contain('SECRET-TOKEN-123');
    } finally {
      await app.close();
    }
  });
});
