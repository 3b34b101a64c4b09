import type { Denial } from '../kernel/denial.js';
import { makeRoom } from '../kernel/make-room.js';
import type { Principal } from '../kernel/principal.js';
import { attempt, type Throttle } from './throttle.js';

/**
 * Brute-force throttling (X3): a client that keeps failing authentication is refused for a
 * while; other clients are unaffected. Failures count until their window ends whatever succeeds
 * in between, and the lock applies to the key (the address), whatever credential it sends next.
 * An attempt is reserved *before* its credential is verified, so parallel guesses cannot all
 * slip in while the first ones are still being checked. Bookkeeping with an injectable clock;
 * bounded in memory. Used by the data plane (key: address and deployment) and the management
 * listener (key: address).
 *
 * Rules, with `limit` and `window`: the first failure opens a window of `window`; failures in
 * it, plus attempts still being checked, may not reach `limit` (more attempts wait, 429); the
 * `limit`-th failure locks the key for `window` from that failure; window and lock end together,
 * and then the count starts from zero.
 *
 * @example
 * ```ts
 * const throttle = new FailureThrottle({ limit: 10, windowMs: 60_000 });
 * const result = await throttle.attempt(key, () => verify(credential)); // a Denial 'throttled' when locked
 * ```
 */
export class FailureThrottle implements Throttle {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly options: { limit: number; windowMs: number; maxEntries?: number; now?: () => number }) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Runs one authentication attempt for `key` under the throttle (see {@link attempt}): refused
   * at once (a `throttled` denial with `retryAfter`) when the key is locked or its in-flight
   * attempts would pass the limit; otherwise `verify` runs and its result is counted.
   */
  attempt(key: string, verify: () => Promise<Principal | Denial>): Promise<Principal | Denial> {
    return attempt(this, key, verify);
  }

  /**
   * Reserves an attempt: 0 when the caller may try now, otherwise the seconds to wait (for
   * `Retry-After`). Failures counted in the window plus attempts in flight may not reach `limit`.
   */
  enter(key: string): number {
    const now = this.now();
    const entry = this.current(key, now);
    if (entry.lockedUntil > now) return Math.ceil((entry.lockedUntil - now) / 1000);
    if (entry.failures + entry.inFlight >= this.options.limit) return 1;
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

  /** The attempt failed: it counts until its window ends, and the `limit`-th locks the key. */
  fail(key: string): void {
    const now = this.now();
    const entry = this.current(key, now);
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    if (entry.failures === 0) entry.windowEnd = now + this.options.windowMs;
    entry.failures++;
    if (entry.failures >= this.options.limit) {
      entry.lockedUntil = now + this.options.windowMs;
      entry.windowEnd = entry.lockedUntil;
    }
  }

  /**
   * The attempt ended without a failure (success, no credential, 403): only its reservation
   * is released. Failures stay until their window ends. The entry is kept (not deleted) so a
   * busy client costs no allocation per request.
   */
  release(key: string): void {
    const entry = this.entries.get(key);
    if (entry) entry.inFlight = Math.max(0, entry.inFlight - 1);
  }

  private current(key: string, now: number): Entry {
    let entry = this.entries.get(key);
    if (entry && entry.failures > 0 && entry.windowEnd <= now) {
      entry.failures = 0;
      entry.lockedUntil = 0;
    }
    if (!entry) {
      makeRoom(this.entries, this.options.maxEntries ?? 100_000, (e) => e.inFlight === 0 && e.windowEnd <= now);
      entry = { failures: 0, inFlight: 0, windowEnd: 0, lockedUntil: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }
}

interface Entry {
  /** Failures in the current window. */
  failures: number;
  /** Attempts reserved and not yet settled. */
  inFlight: number;
  /** When the current window's failures stop counting (0: no window open). */
  windowEnd: number;
  /** Refuse every attempt until then (0: not locked). */
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
