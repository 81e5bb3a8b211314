import { createServer, request, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { startService, type Service } from '../lib/process';
import { freePort, waitForPort } from '../lib/ports';

/**
 * stripe-mock (github.com/stripe/stripe-mock) on loopback, behind a thin recording proxy.
 * stripe-mock validates every request against Stripe's OpenAPI spec and answers fixtures,
 * but keeps no state: a subscription fetched after checkout is a static fixture. Tests
 * (and only tests) can pin what a GET returns with `setObject`, which is how they script
 * "Stripe's truth" for the subscription workflow; everything else goes to stripe-mock.
 */
export interface StripeMock {
  /** What STRIPE_API_BASE points at (the proxy). */
  url: string;
  /** stripe-mock itself. */
  mockUrl: string;
  /** Requests seen, oldest first (form-encoded bodies as sent by the SDK). */
  requests: { method: string; path: string; body: string }[];
  /**
   * Answer `GET path` (e.g. /v1/subscriptions/sub_123) with this object. The path may carry
   * query parameters (`/v1/subscriptions?customer=cus_1`): that pin answers only requests
   * whose query has all of them, and wins over a pin on the bare path.
   */
  setObject(path: string, body: object): void;
  clear(): void;
  stop(): Promise<void>;
}

export function stripeMockBinary(): string | null {
  const bin = process.env.HORSE_TEMPO_STRIPE_MOCK;
  return bin && existsSync(bin) ? bin : null;
}

export async function startStripeMock(opts: { logFile?: string; port?: number } = {}): Promise<StripeMock> {
  const bin = stripeMockBinary();
  if (!bin) throw new Error('HORSE_TEMPO_STRIPE_MOCK is not set or missing: run scripts/setup.sh (npm run setup), which installs stripe-mock');
  const [httpPort, httpsPort] = [await freePort(), await freePort()];
  // -http-addr alone would also open HTTPS on :12112 (all interfaces); pin both to loopback.
  const service: Service = startService('stripe-mock', bin, ['-http-addr', `127.0.0.1:${httpPort}`, '-https-addr', `127.0.0.1:${httpsPort}`], { logFile: opts.logFile });
  await Promise.race([
    waitForPort(httpPort, 'stripe-mock', 30_000),
    service.exited.then((code) => {
      throw new Error(`stripe-mock exited with code ${code} before listening${opts.logFile ? ` (see ${opts.logFile})` : ''}`);
    }),
  ]);

  const objects = new Map<string, object>();
  /** The pinned answer for a GET: the matching pin with the most query parameters. */
  function pinnedFor(url: string): object | undefined {
    const [path, query = ''] = url.split('?');
    const got = new URLSearchParams(query);
    let best: { body: object; params: number } | undefined;
    for (const [key, body] of objects) {
      const [pinPath, pinQuery = ''] = key.split('?');
      if (pinPath !== path) continue;
      const want = [...new URLSearchParams(pinQuery)];
      if (!want.every(([k, v]) => got.getAll(k).includes(v))) continue;
      if (!best || want.length > best.params) best = { body, params: want.length };
    }
    return best?.body;
  }
  const requests: StripeMock['requests'] = [];
  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0];
      requests.push({ method: req.method ?? 'GET', path, body: body.toString('utf8') });
      const pinned = req.method === 'GET' ? pinnedFor(req.url ?? '/') : undefined;
      if (pinned) {
        res.writeHead(200, { 'content-type': 'application/json', 'request-id': 'req_standin' });
        res.end(JSON.stringify(pinned));
        return;
      }
      const upstream = request(
        { host: '127.0.0.1', port: httpPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${httpPort}` } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: `stripe-mock unreachable: ${err.message}` } }));
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const addr = proxy.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    url,
    mockUrl: `http://127.0.0.1:${httpPort}`,
    requests,
    setObject: (path, body) => void objects.set(path, body),
    clear() {
      objects.clear();
      requests.length = 0;
    },
    async stop() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await service.stop(2000);
    },
  };
}
