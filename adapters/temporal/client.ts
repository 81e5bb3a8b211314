import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { ConnectionCtorOptions } from '@temporalio/client/lib/connection';

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
 * The SDK's grpc-js Connection, minus the AsyncLocalStorage scope it enters around calls.
 * The SDK wraps every WorkflowService call in `withMetadata({ 'temporal-namespace': ns })`
 * and its connect check in `withDeadline`, i.e. `AsyncLocalStorage.run`, and the first run
 * turns Node's promise hooks on for the whole process: from then on every promise of every
 * request (Express, pg, the ORM) pays the init/before/after hooks and the context copy, not
 * only Temporal calls (bench/webhook.ts --profile). Here the namespace header is static
 * metadata (a client serves one namespace), the WorkflowService is the unwrapped one, and
 * the gateway disables the storage after the connect check. `withDeadline`, `withMetadata`
 * and `withAbortSignal` still work for whoever calls them (they re-enable it for their scope);
 * the deadlines of our calls come from the deadline interceptor, not from the storage.
 */
export class ContextFreeConnection extends Connection {
  static override async connect(options: ConnectionOptions & { namespace: string }): Promise<ContextFreeConnection> {
    const { namespace, ...rest } = options;
    const connection = (await super.connect({ ...rest, metadata: { ...rest.metadata, 'temporal-namespace': namespace } })) as ContextFreeConnection;
    connection.callContextStorage.disable();
    return connection;
  }

  protected constructor(options: ConnectionCtorOptions) {
    super(options);
    // The constructor replaced the service with its per-call withMetadata wrapper.
    Object.defineProperty(this, 'workflowService', { value: options.workflowService, enumerable: true });
  }
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
    this.pending ??= ContextFreeConnection.connect({
      namespace: this.opts.namespace,
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
