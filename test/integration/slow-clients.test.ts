import { connect, type Socket } from 'node:net';
import { expect } from 'chai';
import { useTestStack } from '../support/use-test-stack';
import { apiClient, eventually, registerUser } from '../support/http';

/** A raw connection that records what the server sends and resolves `closed` when the server hangs up. */
interface RawConnection {
  socket: Socket;
  received: () => string;
  closed: Promise<string>;
}

function open(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    // An RST after a 408 is as good as a FIN here: the server let go of the connection.
    socket.on('error', () => {});
    const closed = new Promise<string>((done) => socket.once('close', () => done(data)));
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Waits for the server to close the connection, with a deadline far above the configured timeouts. */
async function closedByServer(conn: RawConnection, deadlineMs = 20_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the server kept the connection open for ${deadlineMs} ms; received: ${JSON.stringify(conn.received())}`)), deadlineMs);
  });
  try {
    return await Promise.race([conn.closed, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Headers that promise 100 bytes of body, followed by only one. */
function slowRequest(method: string, path: string, headers: Record<string, string>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Content-Length: 100', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n{`;
}

/** 408 from us, or no answer at all: both mean the connection was not held. */
function expectTimedOut(reply: string) {
  if (reply) expect(reply).to.match(/^HTTP\/1\.1 408 /);
  if (/\r\n\r\n\{/.test(reply)) expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).to.include({ statusCode: 408 });
}

describe('Slow clients (integration)', function () {
  this.timeout(60_000);
  const MAX_PER_IP = 6;
  let port: number;

  const { stack } = useTestStack({
    workers: false,
    env: { HTTP_BODY_TIMEOUT_SECONDS: '1', HTTP_UPLOAD_IDLE_TIMEOUT_SECONDS: '1', HTTP_HEADERS_TIMEOUT_SECONDS: '2', HTTP_MAX_CONNECTIONS_PER_IP: String(MAX_PER_IP) },
  });
  before(() => {
    port = Number(new URL(stack.baseUrl).port);
  });

  it('closes a JSON request whose body stops after 1 of 100 bytes with a 408', async () => {
    const conn = await open(port);
    conn.socket.write(slowRequest('POST', '/api/auth/login', { 'Content-Type': 'application/json' }));
    const reply = await closedByServer(conn);
    expect(reply).to.match(/^HTTP\/1\.1 408 /);
    expectTimedOut(reply);
  });

  it('closes a stalled streamed upload (inactivity timeout) and stores nothing', async () => {
    const api = apiClient(stack.baseUrl);
    const { accessToken } = await registerUser(api);
    const target = await api.post('/api/uploads', { contentType: 'video/mp4', size: 100 }, accessToken);
    expect(target.status).to.equal(201);
    const path = new URL(target.body.uploadUrl).pathname;
    const conn = await open(port);
    conn.socket.write(slowRequest('PUT', path, { 'Content-Type': 'video/mp4' }));
    expectTimedOut(await closedByServer(conn));
    expect(await stack.storage.head(target.body.videoKey)).to.equal(null);
  });

  it('closes a request answered early (415) whose unread body never completes', async () => {
    const conn = await open(port);
    conn.socket.write(slowRequest('POST', '/api/auth/login', { 'Content-Type': 'text/plain' }));
    const reply = await closedByServer(conn);
    // The 415 goes out at once; the connection still does not wait for the other 99 bytes.
    expect(reply).to.match(/^HTTP\/1\.1 415 /);
  });

  it('closes a connection that never finishes its headers (headersTimeout)', async () => {
    const conn = await open(port);
    conn.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expectTimedOut(await closedByServer(conn, 40_000));
  });

  it(`refuses connection ${MAX_PER_IP + 1} from one address while ${MAX_PER_IP} are open, and accepts again once they close`, async () => {
    const held = await Promise.all(Array.from({ length: MAX_PER_IP }, () => open(port)));
    try {
      const extra = await open(port);
      extra.socket.write('GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      expect(await closedByServer(extra)).to.equal('');
    } finally {
      held.forEach((c) => c.socket.destroy());
    }
    await eventually(async () => (await fetch(`${stack.baseUrl}/api/health`)).status !== 0, 10_000, 'a new connection to be accepted');
  });
});
