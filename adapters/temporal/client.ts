import { Client, Connection } from '@temporalio/client';

/**
 * One lazy Temporal connection per process. A failed connect is forgotten so the next
 * call tries again (the API starts even when Temporal is briefly down; /api/health says so).
 */
export class TemporalGateway {
  private pending?: Promise<Client>;

  constructor(private readonly opts: { address: string; namespace: string }) {}

  get namespace(): string {
    return this.opts.namespace;
  }

  client(): Promise<Client> {
    this.pending ??= Connection.connect({ address: this.opts.address, connectTimeout: '5s' })
      .then((connection) => new Client({ connection, namespace: this.opts.namespace }))
      .catch((err) => {
        this.pending = undefined;
        throw new Error(`Cannot reach Temporal at ${this.opts.address}: ${(err as Error).message}`, { cause: err });
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
