/**
 * Brute-force throttling (X3): a client that keeps failing authentication on one deployment is
 * refused for a while; other clients and other deployments are unaffected. An attempt is
 * reserved *before* its credential is verified, so parallel guesses cannot all slip in while
 * the first ones are still being checked. Pure bookkeeping with an injectable clock; bounded.
 *
 * @example
 * ```ts
 * const throttle = new FailureThrottle({ limit: 10, windowMs: 60_000 });
 * const wait = throttle.enter(key);   // seconds to wait, or 0 with an attempt reserved
 * if (wait === 0) ok ? throttle.succeed(key) : bad ? throttle.fail(key) : throttle.release(key);
 * ```
 */
export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: { limit: number; windowMs: number; maxEntries?: number; now?: () => number }) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Reserves an attempt: 0 when the caller may try now, otherwise the seconds to wait (for
   * `Retry-After`). Failures counted in the window plus attempts in flight may not pass `limit`.
   */
  enter(key: string): number {
    const now = this.now();
    const entry = this.current(key, now);
    if (entry.lockedUntil > now) return Math.ceil((entry.lockedUntil - now) / 1000);
    if (entry.count + entry.inFlight >= this.options.limit) return 1;
    entry.inFlight++;
    return 0;
  }

  /**
   * Seconds the key is still locked out, 0 when it is not. Reserves and counts nothing: for a
   * credential already known good (a cache hit), so a locked-out address stays locked out
   * without the hot path paying for a reservation.
   */
  lockedFor(key: string): number {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.lockedUntil === 0) return 0;
    const now = this.now();
    return entry.lockedUntil > now ? Math.ceil((entry.lockedUntil - now) / 1000) : 0;
  }

  /** The attempt failed: it counts, and `limit` failures in one window lock the key. */
  fail(key: string): void {
    const now = this.now();
    const entry = this.current(key, now);
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.count++;
    if (entry.count >= this.options.limit) entry.lockedUntil = now + this.options.windowMs;
  }

  /**
   * A success clears the record: a user who finally typed the right password starts afresh.
   * The entry is kept (not deleted) so a busy client costs no allocation per request.
   */
  succeed(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.count = 0;
    entry.lockedUntil = 0;
  }

  /** The attempt neither failed nor succeeded (no credential sent, or a 403): just release it. */
  release(key: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.inFlight = Math.max(0, entry.inFlight - 1);
  }

  private current(key: string, now: number): Entry {
    let entry = this.entries.get(key);
    if (entry && now - entry.windowStart >= this.options.windowMs && entry.lockedUntil <= now) {
      entry.count = 0;
      entry.windowStart = now;
    }
    if (!entry) {
      this.evictIfFull(now);
      entry = { count: 0, inFlight: 0, windowStart: now, lockedUntil: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private evictIfFull(now: number): void {
    const max = this.options.maxEntries ?? 100_000;
    if (this.entries.size < max) return;
    for (const [key, e] of this.entries) {
      if (e.inFlight === 0 && e.lockedUntil <= now && now - e.windowStart >= this.options.windowMs) {
        this.entries.delete(key);
      }
    }
    // Still full: forget the oldest, not the newest (an attacker would rotate through keys).
    while (this.entries.size >= max) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}

interface Entry {
  count: number;
  inFlight: number;
  windowStart: number;
  lockedUntil: number;
}

/**
 * The throttling identity of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's
 * allocation), so an attacker cannot get a fresh key per address.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return '';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
