/**
 * A short per-process memory of authenticated callers (user row + memberships), so a burst
 * of requests with the same token costs one database read instead of one per request.
 *
 * Trade-off (AUTH_CACHE_TTL_SECONDS, default 5; 0 turns it off): for up to that many seconds
 * after a change made by ANOTHER process (another API replica, a worker changing the plan),
 * this process may still serve the old picture: a token revoked by a password change, a
 * membership removed, a plan changed. Changes made through this process are forgotten at
 * once (`forget`). Entries are bounded (`maxEntries`, oldest dropped first).
 *
 * A miss is loaded once (`load`): every request for the same key that arrives while its load
 * is in flight waits for that load instead of sending its own. Without it, each time an entry
 * expired every request of that caller in flight at that instant missed at once (32 in
 * bench/api-auth.ts) and sent its own caller query, and the last of them queued behind the
 * others on the connection pool: the tail of the latency, every TTL.
 */
export class CallerCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();
  private readonly loading = new Map<string, Promise<T | null>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  get(key: string, now = Date.now()): T | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }

  /**
   * The cached value, else the result of `loader`, shared by every caller that asks for this
   * key while it runs (null: nothing to remember, e.g. the user is gone). With the cache off
   * (TTL 0) each call loads on its own, so no request sees a read begun before it arrived.
   * A `forget` while a load is in flight drops that load: it may have read the row before the
   * change, so its result is neither remembered nor handed to later callers.
   */
  load(key: string, loader: () => Promise<T | null>): Promise<T | null> {
    const hit = this.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    if (!this.enabled) return loader();
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loaded: Promise<T | null> = loader().then(
      (value) => {
        if (this.loading.get(key) === loaded) {
          this.loading.delete(key);
          if (value !== null) this.set(key, value);
        }
        return value;
      },
      (err: unknown) => {
        if (this.loading.get(key) === loaded) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, loaded);
    return loaded;
  }

  set(key: string, value: T, now = Date.now()): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(key: string): void {
    this.entries.delete(key);
    this.loading.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.loading.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Every caller cache of this process, so code that changes a user's password, plan or
 * memberships can forget that user everywhere without being handed the cache.
 */
const registered = new Set<CallerCache<unknown>>();

export function registerCallerCache(cache: CallerCache<unknown>): void {
  registered.add(cache);
}

/** Forget what this process remembers about these users (after changing them). */
export function forgetCallers(...userIds: string[]): void {
  for (const cache of registered) for (const id of userIds) cache.forget(id);
}
