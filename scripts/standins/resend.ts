import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';

/**
 * A local stand-in for the Resend HTTP API (POST /emails), so the real `resend` SDK can be
 * exercised without the internet. It honours Idempotency-Key like Resend does, records
 * every accepted email, and can be told to fail the next N requests.
 */
export interface CapturedEmail {
  id: string;
  from: string;
  to: string[];
  subject: string;
  text?: string;
  html?: string;
  idempotencyKey?: string;
  receivedAt: Date;
}

export interface ResendStandIn {
  url: string;
  emails: CapturedEmail[];
  /** Requests that reached the server, including duplicates answered from the idempotency cache. */
  requests: number;
  failNext(count: number, status?: number): void;
  clear(): void;
  close(): Promise<void>;
}

export async function startResendStandIn(port = 0): Promise<ResendStandIn> {
  const emails: CapturedEmail[] = [];
  const byKey = new Map<string, CapturedEmail>();
  let failures: { left: number; status: number } = { left: 0, status: 500 };
  const state = { requests: 0 };

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      state.requests += 1;
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/emails') return send(404, { statusCode: 404, name: 'not_found', message: 'Unknown endpoint' });
      if (!/^Bearer re_/.test(req.headers.authorization ?? '')) return send(401, { statusCode: 401, name: 'missing_api_key', message: 'Missing API key' });
      if (failures.left > 0) {
        failures.left -= 1;
        return send(failures.status, { statusCode: failures.status, name: 'application_error', message: 'Scripted failure' });
      }
      let body: { from?: string; to?: string | string[]; subject?: string; text?: string; html?: string };
      try {
        body = JSON.parse(raw);
      } catch {
        return send(422, { statusCode: 422, name: 'validation_error', message: 'Invalid JSON' });
      }
      if (!body.from || !body.to || !body.subject) return send(422, { statusCode: 422, name: 'validation_error', message: 'from, to and subject are required' });
      const key = req.headers['idempotency-key'] as string | undefined;
      const previous = key ? byKey.get(key) : undefined;
      if (previous) return send(200, { id: previous.id });
      const email: CapturedEmail = {
        id: randomUUID(),
        from: body.from,
        to: Array.isArray(body.to) ? body.to : [body.to],
        subject: body.subject,
        text: body.text,
        html: body.html,
        idempotencyKey: key,
        receivedAt: new Date(),
      };
      emails.push(email);
      if (key) byKey.set(key, email);
      send(200, { id: email.id });
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`;
  return {
    url,
    emails,
    get requests() {
      return state.requests;
    },
    failNext(count, status = 500) {
      failures = { left: count, status };
    },
    clear() {
      emails.length = 0;
      byKey.clear();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  } as ResendStandIn;
}
