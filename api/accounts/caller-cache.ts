/**
 * A short per-process memory of authenticated callers (user row + memberships), so a burst
 * of requests with the same token costs one database read instead of one per request.
 *
 * Trade-off (AUTH_CACHE_TTL_SECONDS, default 5; 0 turns it off): for up to that many seconds
 * after a change made by ANOTHER process (another API replica, a worker changing the plan),
 * this process may still serve the old picture: a token revoked by a password change, a
 * membership removed, a plan changed. Changes made through this process are forgotten at
 * once (`forget`). Entries are bounded (`maxEntries`, oldest dropped first).
 */
export class CallerCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

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

  set(key: string, value: T, now = Date.now()): void {
    if (!this.enabled) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
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
