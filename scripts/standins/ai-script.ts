import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ANALYSIS_TYPES, sandboxAnswer, type AnalysisType } from '../../domain/analysis';

/**
 * What the AI stand-ins share: a scriptable queue of behaviours and a log of every request.
 * Tests script the next answers (`script(429, 'hang', 200)`); when the queue is empty the
 * stand-in answers 200 with a valid sandbox result built from the requested analysis type.
 */
export type AiBehaviour = 200 | 400 | 401 | 403 | 429 | 500 | 503 | 529 | 'hang' | 'invalid' | 'not-json';

export interface AiRequestRecord {
  at: Date;
  path: string;
  model: string;
  /** From the x-horse-tempo-analysis header. */
  analysisId: string | null;
  /** Parsed from the prompt ("Analysis type: ..."). */
  type: AnalysisType | null;
  images: number;
  behaviour: AiBehaviour;
}

export interface AiStandIn {
  url: string;
  /** Base URL for the SDK (`baseURL`). */
  baseURL: string;
  requests: AiRequestRecord[];
  /** Appends behaviours to the global queue, or to one analysis' queue. */
  script(...behaviours: AiBehaviour[]): void;
  scriptFor(analysisId: string, ...behaviours: AiBehaviour[]): void;
  /** Requests for one analysis (by header). */
  requestsFor(analysisId: string): AiRequestRecord[];
  /** Empties queues and the request log; answers anything hanging. */
  reset(): void;
  close(): Promise<void>;
}

export interface Dialect {
  name: string;
  path: string;
  /** Pulls model, prompt text and image count out of the request body. */
  inspect(body: any): { model: string; text: string; images: number };
  success(model: string, answer: unknown, usage: { input: number; output: number }): unknown;
  error(status: number): { body: unknown; headers?: Record<string, string> };
  baseURL(url: string): string;
}

export async function startAiStandIn(dialect: Dialect, port = 0): Promise<AiStandIn> {
  const queue: AiBehaviour[] = [];
  const perAnalysis = new Map<string, AiBehaviour[]>();
  const requests: AiRequestRecord[] = [];
  const hanging = new Set<ServerResponse>();

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  function control(req: IncomingMessage, res: ServerResponse, raw: string): boolean {
    if (!req.url?.startsWith('/__standin/')) return false;
    if (req.method === 'POST' && req.url === '/__standin/script') {
      const { behaviours = [], analysisId } = JSON.parse(raw || '{}') as { behaviours?: AiBehaviour[]; analysisId?: string };
      if (analysisId) perAnalysis.set(analysisId, [...(perAnalysis.get(analysisId) ?? []), ...behaviours]);
      else queue.push(...behaviours);
      send(res, 200, { queued: queue.length });
    } else if (req.method === 'GET' && req.url === '/__standin/requests') send(res, 200, requests);
    else if (req.method === 'POST' && req.url === '/__standin/reset') {
      reset();
      send(res, 200, { ok: true });
    } else send(res, 404, { error: 'unknown control endpoint' });
    return true;
  }

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      if (control(req, res, raw)) return;
      if (req.method !== 'POST' || req.url?.split('?')[0] !== dialect.path) return send(res, 404, dialect.error(404).body);
      let body: any;
      try {
        body = JSON.parse(raw);
      } catch {
        return send(res, 400, dialect.error(400).body);
      }
      const { model, text, images } = dialect.inspect(body);
      const analysisId = (req.headers['x-horse-tempo-analysis'] as string | undefined) ?? null;
      const typeMatch = /Analysis type: (\w+)/.exec(text);
      const type = typeMatch && (ANALYSIS_TYPES as readonly string[]).includes(typeMatch[1]) ? (typeMatch[1] as AnalysisType) : null;
      const own = analysisId ? perAnalysis.get(analysisId) : undefined;
      const behaviour: AiBehaviour = (own?.length ? own.shift() : queue.shift()) ?? 200;
      requests.push({ at: new Date(), path: dialect.path, model, analysisId, type, images, behaviour });

      if (behaviour === 'hang') {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      if (typeof behaviour === 'number' && behaviour !== 200) {
        const err = dialect.error(behaviour);
        return send(res, behaviour, err.body, err.headers);
      }
      const usage = { input: 180 + images * 1100, output: 420 };
      if (behaviour === 'not-json') return send(res, 200, dialect.success(model, 'I cannot answer in JSON, sorry.', usage));
      if (behaviour === 'invalid') {
        // Well-formed JSON that breaks the result schema: score out of range, no categories.
        return send(res, 200, dialect.success(model, { globalScore: 250, categories: [], strengths: 'many', confidence: 3 }, usage));
      }
      return send(res, 200, dialect.success(model, sandboxAnswer(type ?? 'locomotion'), usage));
    });
  });

  function reset() {
    queue.length = 0;
    perAnalysis.clear();
    requests.length = 0;
    for (const res of hanging) send(res, 500, dialect.error(500).body);
    hanging.clear();
  }

  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`;
  return {
    url,
    baseURL: dialect.baseURL(url),
    requests,
    script: (...b) => void queue.push(...b),
    scriptFor: (id, ...b) => void perAnalysis.set(id, [...(perAnalysis.get(id) ?? []), ...b]),
    requestsFor: (id) => requests.filter((r) => r.analysisId === id),
    reset,
    close: () =>
      new Promise<void>((r) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
