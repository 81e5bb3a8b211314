/**
 * The one polling helper of the test suite: waits until `check` returns a truthy value
 * (a workflow's describe/query, a stub's call count, an HTTP answer...) and returns it.
 * Wait on a condition, never for a fixed time: a fixed sleep is either too short on a
 * loaded machine (flaky) or proves nothing (it passes whether or not the thing happened).
 * A check that throws is retried; its last error is in the timeout message.
 */
export interface WaitOptions {
  /** Default 20 s: generous for a loaded CI machine; a passing wait returns as soon as it can. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
}

export async function waitFor<T>(what: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, opts: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
