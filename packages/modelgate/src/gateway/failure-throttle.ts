/**
 * Brute-force throttling (X3): a client address that keeps failing authentication on one
 * deployment is refused for a while; other clients and other deployments are unaffected.
 * Pure bookkeeping with an injectable clock; bounded in memory.
 *
 * @example
 * ```ts
 * const throttle = new FailureThrottle({ limit: 10, windowMs: 60_000 });
 * const wait = throttle.retryAfter('10.0.0.1|demo'); // seconds, or 0 when free to try
 * throttle.fail('10.0.0.1|demo');
 * ```
 */
export class FailureThrottle {
  private readonly entries = new Map<string, { count: number; windowStart: number; lockedUntil: number }>();
  private readonly now: () => number;

  constructor(private readonly options: { limit: number; windowMs: number; maxEntries?: number; now?: () => number }) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds the caller must wait (for `Retry-After`), or 0 when it may try. */
  retryAfter(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    const remaining = entry.lockedUntil - this.now();
    return remaining > 0 ? Math.ceil(remaining / 1000) : 0;
  }

  /** Records a failed attempt; locks the key once `limit` failures fall inside one window. */
  fail(key: string): void {
    const now = this.now();
    let entry = this.entries.get(key);
    if (!entry || now - entry.windowStart >= this.options.windowMs) {
      entry = { count: 0, windowStart: now, lockedUntil: 0 };
      this.entries.delete(key);
      this.evictIfFull();
      this.entries.set(key, entry);
    }
    entry.count++;
    if (entry.count >= this.options.limit) entry.lockedUntil = now + this.options.windowMs;
  }

  /** A success clears the record: a user who finally typed the right password starts afresh. */
  succeed(key: string): void {
    if (this.entries.size > 0) this.entries.delete(key);
  }

  private evictIfFull(): void {
    const max = this.options.maxEntries ?? 100_000;
    if (this.entries.size < max) return;
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (e.lockedUntil <= now && now - e.windowStart >= this.options.windowMs) this.entries.delete(key);
    }
    // Still full: forget the oldest, not the newest (an attacker would rotate through keys).
    while (this.entries.size >= max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
