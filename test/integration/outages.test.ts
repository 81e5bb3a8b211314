import { expect } from 'chai';
import { startTestStack, type TestStack } from '../support/stack';
import { apiClient, eventually, registerUser, type ApiClient, type ApiResponse } from '../support/http';
import { testDatabase, testTemporal } from '../support/infra';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { TaskQueue } from '../../workflows/queues';

/** A 503 a client can act on: Retry-After, the usual error shape, nothing about our servers. */
function expectUnavailable(res: ApiResponse, retryAfter: number) {
  expect(res.status, JSON.stringify(res.body)).to.equal(503);
  expect(res.headers.get('retry-after')).to.equal(String(retryAfter));
  expect(res.body).to.include({ statusCode: 503, error: 'Service Unavailable' });
  expect(res.body.requestId).to.be.a('string').and.not.equal('');
  expect(JSON.stringify(res.body)).not.to.match(/127\.0\.0\.1|localhost|ECONN|postgres|temporal|grpc|:\d{4,5}\b/i);
}

describe('Outages answer 503 with Retry-After (integration)', function () {
  this.timeout(120_000);

  describe('Postgres stops', () => {
    let stack: TestStack;
    let proxy: TcpProxy;
    let api: ApiClient;

    before(async () => {
      const db = new URL((await testDatabase()).url);
      proxy = await startTcpProxy({ host: db.hostname, port: Number(db.port) });
      db.port = String(proxy.port);
      stack = await startTestStack({
        workers: false,
        env: { DATABASE_URL: db.toString(), DATABASE_CONNECT_TIMEOUT_SECONDS: '2', OUTAGE_RETRY_AFTER_SECONDS: '7' },
      });
      api = apiClient(stack.baseUrl);
    });
    after(async () => {
      // Cut the proxy first: a pool connection still waiting on it would otherwise hold the
      // ORM's close (pool.end waits for checked-out clients) past the hook's timeout.
      await proxy?.close();
      await stack?.close();
    });

    it('answers every request of a burst with 503 + Retry-After while it is down, writes nothing, and recovers when it is back', async () => {
      const { accessToken: token } = await registerUser(api);
      const before = await api.post('/api/horses', { name: 'Before', gender: 'mare' }, token);
      expect(before.status).to.equal(201);

      await proxy.refuse();
      const burst = await Promise.all([
        ...Array.from({ length: 10 }, (_, i) => api.post('/api/horses', { name: `During ${i}`, gender: 'mare' }, token)),
        ...Array.from({ length: 10 }, () => api.get('/api/horses', token)),
      ]);
      for (const res of burst) expectUnavailable(res, 7);

      await proxy.forward();
      const list = await eventually(async () => {
        const res = await api.get('/api/horses', token);
        return res.status === 200 ? res.body : null;
      }, 30_000, 'the API to read horses again');
      // Only the horse created before the outage: the refused writes left nothing behind.
      expect(list.items.map((h: { name: string }) => h.name)).to.deep.equal(['Before']);
      const after = await api.post('/api/horses', { name: 'After', gender: 'mare' }, token);
      expect(after.status).to.equal(201);
    });
  });

  describe('Temporal hangs (connections open, nothing answers) and comes back', () => {
    let stack: TestStack;
    let proxy: TcpProxy;
    let api: ApiClient;

    before(async () => {
      const [host, port] = (await testTemporal()).address.split(':');
      proxy = await startTcpProxy({ host, port: Number(port) });
      stack = await startTestStack({
        queues: [TaskQueue.marketplace],
        env: { TEMPORAL_ADDRESS: `127.0.0.1:${proxy.port}`, TEMPORAL_RPC_TIMEOUT_SECONDS: '2', OUTAGE_RETRY_AFTER_SECONDS: '9' },
      });
      api = apiClient(stack.baseUrl);
    });
    after(async () => {
      await proxy?.forward();
      await stack?.close();
      await proxy?.close();
    });

    it('answers a workflow query with 503 + Retry-After once the call deadline passes, then answers again', async () => {
      const { accessToken: token, user } = await registerUser(api);
      // Two active listings: more than the free plan allows.
      await stack.orm.em.fork().getConnection().execute(`update users set plan = 'pro' where id = ?`, [user.id]);
      const created = await api.post(
        '/api/marketplace/my/listings',
        { type: 'sale', title: 'Bay mare for sale', description: 'Kind and sound.', priceCents: 1_500_000, currency: 'EUR', country: 'FR' },
        token,
      );
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      const published = await api.post(`/api/marketplace/my/listings/${created.body.id}/publish`, undefined, token);
      expect(published.status, JSON.stringify(published.body)).to.equal(200);
      const lifecycle = `/api/marketplace/my/listings/${created.body.id}/lifecycle`;
      await eventually(async () => (await api.get(lifecycle, token)).status === 200, 30_000, 'the lifecycle query to answer');

      const second = await api.post(
        '/api/marketplace/my/listings',
        { type: 'sale', title: 'Grey gelding for sale', description: 'Calm.', priceCents: 900_000, currency: 'EUR', country: 'FR' },
        token,
      );
      expect(second.status).to.equal(201);

      proxy.blackhole();
      const during = await Promise.all(Array.from({ length: 5 }, () => api.get(lifecycle, token)));
      for (const res of during) expectUnavailable(res, 9);
      // A write whose workflow start cannot get through: 503, and the message names no server.
      expectUnavailable(await api.post(`/api/marketplace/my/listings/${second.body.id}/publish`, undefined, token), 9);

      await proxy.forward();
      await eventually(async () => (await api.get(lifecycle, token)).status === 200, 60_000, 'the lifecycle query to answer again');
    });
  });
});
