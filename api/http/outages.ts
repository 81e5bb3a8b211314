import { isGrpcServiceError } from '@temporalio/client';
import { TemporalUnavailableError } from '../../adapters/temporal/client';

/**
 * Recognises the errors that mean "a dependency is down or too slow right now" (as opposed
 * to a bug or a refusal), so the API answers them with 503 + Retry-After instead of 500:
 * the client may retry the same request later and nothing was half-written by us (every
 * write path runs in a transaction that the failure rolled back).
 */
export type Dependency = 'database' | 'temporal' | 'storage' | 'network';

/** Socket-level failures: the dependency did not answer at all. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

/**
 * Postgres SQLSTATEs: connection exceptions (08…), the server shutting down or starting
 * (57P01–57P03), too many connections (53300), and our statement_timeout (57014).
 */
const isPostgresOutageCode = (code: string) => /^08/.test(code) || ['57P01', '57P02', '57P03', '53300', '57014'].includes(code);

/** pg / pg-pool messages that carry no code. */
const POSTGRES_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|connection timeout/i;

/** gRPC statuses from Temporal that mean "unavailable right now": DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE. */
const GRPC_OUTAGE = new Set([4, 8, 14]);

function* causes(err: unknown): Generator<unknown> {
  const seen = new Set<unknown>();
  const queue = [err];
  while (queue.length && seen.size < 16) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    yield e;
    const o = e as { cause?: unknown; errors?: unknown[]; previous?: unknown };
    queue.push(o.cause, o.previous, ...(Array.isArray(o.errors) ? o.errors : []));
  }
}

/** Which dependency is unavailable, or null when the error is something else. */
export function unavailableDependency(err: unknown): Dependency | null {
  for (const e of causes(err)) {
    if (e instanceof TemporalUnavailableError) return 'temporal';
    if (isGrpcServiceError(e) && GRPC_OUTAGE.has(e.code)) return 'temporal';
    const o = e as { code?: unknown; name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    if (o.$metadata !== undefined) {
      // AWS SDK (S3): its timeouts, and 5xx answers (503 SlowDown, 500 InternalError).
      if (o.name === 'TimeoutError' || (o.$metadata.httpStatusCode ?? 0) >= 500) return 'storage';
    }
    if (typeof o.code === 'string' && isPostgresOutageCode(o.code) && o.code.length === 5) return 'database';
    if (typeof o.message === 'string' && POSTGRES_MESSAGES.test(o.message)) return 'database';
    if (typeof o.code === 'string' && NETWORK_CODES.has(o.code)) return 'network';
    if (o.name === 'TimeoutError' && typeof o.message === 'string' && /socket|connection/i.test(o.message)) return 'network';
  }
  return null;
}
