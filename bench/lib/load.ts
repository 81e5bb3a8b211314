/**
 * HTTP load with autocannon (the same client, connection count and duration for ours and
 * the baseline), and child server processes so the load generator never shares an event
 * loop with the server it measures.
 */
import autocannon from 'autocannon';
import { startService, type Service } from '../../scripts/lib/process';
import { freePort, waitForPort } from '../../scripts/lib/ports';
import { cpuSecondsOf } from './cpu';

export interface LoadFigures {
  /** Successful (2xx) requests per second. */
  rps: number;
  /** Server CPU (user + system) per request, when the server's pid was given: steadier than rps on a shared machine. */
  cpuMsPerRequest?: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export { cpuSecondsOf } from './cpu';

export async function load(opts: { url: string; headers?: Record<string, string>; connections: number; seconds: number; method?: 'GET' | 'POST'; body?: string; serverPid?: number }): Promise<LoadFigures> {
  const cpuBefore = opts.serverPid ? cpuSecondsOf(opts.serverPid) : NaN;
  const result = await autocannon({
    url: opts.url,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body,
    connections: opts.connections,
    duration: opts.seconds,
  });
  const ok = result['2xx'];
  if (ok === 0) throw new Error(`no 2xx answer from ${opts.url} (non2xx ${result.non2xx}, errors ${result.errors})`);
  const cpu = opts.serverPid ? cpuSecondsOf(opts.serverPid) - cpuBefore : NaN;
  return {
    rps: ok / opts.seconds,
    ...(Number.isFinite(cpu) ? { cpuMsPerRequest: (cpu * 1000) / result.requests.total } : {}),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * One side's figures over its measured rounds: throughput and CPU per request averaged (they
 * add up over time); p50 and p99 the MEDIAN of the rounds' own percentiles, so one round that a
 * neighbour's burst on the shared machine hit does not decide the tail figure. The caller applies
 * it to ours and the baseline alike.
 */
export function combine(rounds: LoadFigures[]): LoadFigures {
  const n = rounds.length;
  return {
    rps: rounds.reduce((s, r) => s + r.rps, 0) / n,
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    ...(rounds.every((r) => r.cpuMsPerRequest !== undefined) ? { cpuMsPerRequest: rounds.reduce((s, r) => s + r.cpuMsPerRequest!, 0) / n } : {}),
    requests: rounds.reduce((s, r) => s + r.requests, 0),
    non2xx: rounds.reduce((s, r) => s + r.non2xx, 0),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
  };
}

export function describe(f: LoadFigures): string {
  return `${f.rps.toFixed(0)} req/s, p50 ${f.p50} ms, p99 ${f.p99} ms${f.cpuMsPerRequest !== undefined ? `, server CPU ${f.cpuMsPerRequest.toFixed(2)} ms/request` : ''} (${f.requests} requests, ${f.non2xx} non-2xx, ${f.errors} errors)`;
}

export interface ChildServer {
  url: string;
  pid: number;
  port: number;
  service: Service;
  stop(): Promise<void>;
}

/** Starts `node [nodeFlags] --import tsx <script>` with PORT set and waits for the port. */
export async function startChildServer(name: string, script: string, env: Record<string, string>, opts: { nodeFlags?: string[]; logFile?: string } = {}): Promise<ChildServer> {
  const port = await freePort();
  const service = startService(name, process.execPath, [...(opts.nodeFlags ?? []), '--import', 'tsx', script], {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    logFile: opts.logFile,
  });
  await Promise.race([
    waitForPort(port, name, 60_000),
    service.exited.then((code) => {
      throw new Error(`${name} exited (${code}) before listening${opts.logFile ? `; see ${opts.logFile}` : ''}`);
    }),
  ]);
  return { url: `http://127.0.0.1:${port}`, pid: service.child.pid!, port, service, stop: () => service.stop() };
}
