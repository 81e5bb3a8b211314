import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';

import type { TemporalConnectionSettings } from './connection';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/** Temporal could not be reached (connect failed or timed out). The address stays in logs, not in HTTP answers. */
export class TemporalUnavailableError extends Error {
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    super(`Cannot reach Temporal at ${address}: ${(cause as Error)?.message ?? cause}`, { cause });
    this.name = 'TemporalUnavailableError';
  }
}

/**
 * Gives every gRPC call without a deadline of its own one `ms` from now. Placed before the
 * SDK's retry interceptor, so its retries of UNAVAILABLE share that one deadline too.
 */
export function deadlineInterceptor(ms: number): Interceptor {
  // grpc-js types the result as its InterceptingCall class; nextCall's interface is what it uses.
  return (options, nextCall) => nextCall(options.deadline === undefined ? { ...options, deadline: Date.now() + ms } : options) as ReturnType<Interceptor>;
}

/**
 * One lazy Temporal connection per process. A failed connect is forgotten so the next
 * call tries again (the API starts even when Temporal is briefly down; /api/health says so).
 */
export class TemporalGateway {
  private pending?: Promise<Client>;

  /**
   * `callTimeoutMs`: a deadline for every call made through this client (set by the API,
   * whose calls run inside requests: start, signal, query, update, describe). Without it,
   * calls wait as long as the SDK's retries last.
   */
  constructor(private readonly opts: { address: string; namespace: string; callTimeoutMs?: number; tls?: TemporalConnectionSettings['tls']; apiKey?: string }) {}

  get namespace(): string {
    return this.opts.namespace;
  }

  client(): Promise<Client> {
    const deadline = this.opts.callTimeoutMs;
    this.pending ??= Connection.connect({
      address: this.opts.address,
      ...(this.opts.tls ? { tls: this.opts.tls } : {}),
      ...(this.opts.apiKey ? { apiKey: this.opts.apiKey } : {}),
      connectTimeout: deadline ? Math.min(deadline, 5000) : '5s',
      ...(deadline ? { interceptors: [deadlineInterceptor(deadline), makeGrpcRetryInterceptor(defaultGrpcRetryOptions())] } : {}),
    })
      .then((connection) => new Client({ connection, namespace: this.opts.namespace }))
      .catch((err) => {
        this.pending = undefined;
        throw new TemporalUnavailableError(this.opts.address, err);
      });
    return this.pending;
  }

  /** True when the frontend answers for our namespace within the timeout. */
  async isHealthy(timeoutMs = 2000): Promise<boolean> {
    try {
      const client = await withTimeout(this.client(), timeoutMs);
      await withTimeout(
        client.connection.workflowService.describeNamespace({ namespace: this.opts.namespace }),
        timeoutMs,
      );
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) await pending.then((c) => c.connection.close()).catch(() => {});
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
