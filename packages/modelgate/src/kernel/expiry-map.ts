/**
 * Keys remembered until a time (epoch ms), bounded in number: a mirror of throttle locks, or of
 * clients that failed a password check. Reading is a map lookup (the cache-hit path reads one);
 * an expired key is forgotten when read. When full, the entry set longest ago is forgotten first
 * (an attacker rotating through keys cannot make the map grow, and the oldest is the closest to
 * expiring when every entry has the same lifetime).
 *
 * @example
 * ```ts
 * const locks = new ExpiryMap(100_000);
 * locks.set('203.0.113.7|dep_1', Date.now() + 60_000);
 * locks.secondsLeft('203.0.113.7|dep_1'); // 60
 * ```
 */
export class ExpiryMap {
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Remembers `key` until `until`; a later time wins over an earlier one already set. */
  set(key: string, until: number): void {
    const known = this.entries.get(key);
    if (known !== undefined && known >= until) return;
    // Re-inserted, so insertion order stays the order of the latest setting.
    this.entries.delete(key);
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, until);
  }

  /** Until when `key` is remembered, 0 when it is not (or no longer). The clock is read only for a known key. */
  until(key: string): number {
    const until = this.entries.get(key);
    if (until === undefined) return 0;
    if (until > this.now()) return until;
    this.entries.delete(key);
    return 0;
  }

  /** Whole seconds left for `key` (rounded up, for `Retry-After`), 0 when none. */
  secondsLeft(key: string): number {
    const until = this.entries.get(key);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.entries.delete(key);
    return 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
