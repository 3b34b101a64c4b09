import { makeRoom } from '../kernel/make-room.js';
import { type RateLimit, windowMs } from '../kernel/rate-limit.js';

/** One request counted against a limit: whether it is within it, what is left and when the window ends. */
export interface RateCount {
  readonly allowed: boolean;
  /** Requests left in this window (0 once over). */
  readonly remaining: number;
  /** Milliseconds until the window ends and the count starts again. */
  readonly resetMs: number;
}

/**
 * Where rate limits are counted (X3). In one process a {@link MemoryRateCounter}; a worker of a
 * multi-process node asks its primary's; replicas with `redis_url` count in Redis, so `take` may
 * be asynchronous there. Windows are fixed and aligned to the epoch (a minute window is a clock
 * minute), so every process and replica agrees on where one ends.
 */
export interface RateCounter {
  /** Counts one request for `key` under `limit`. */
  take(key: string, limit: RateLimit): RateCount | Promise<RateCount>;
}

/**
 * The window a moment falls in, and how long until it ends: pure, so every counter shares it.
 *
 * @example
 * ```ts
 * windowAt(61_500, { requests: 10, per: 'minute' }); // { index: 1, resetMs: 58_500 }
 * ```
 */
export function windowAt(now: number, limit: RateLimit): { readonly index: number; readonly resetMs: number } {
  const length = windowMs(limit.per);
  const index = Math.floor(now / length);
  return { index, resetMs: (index + 1) * length - now };
}

/** The verdict for the `count`-th request of a window. */
export function countVerdict(count: number, limit: RateLimit, resetMs: number): RateCount {
  return { allowed: count <= limit.requests, remaining: Math.max(0, limit.requests - count), resetMs };
}

interface Slot {
  window: number;
  count: number;
  /** When the window ends (epoch ms). */
  ends: number;
}

/**
 * Rate limits counted in this process: one slot per key, reset when its window has passed.
 * Bounded: past `maxEntries`, slots of ended windows go first, then the oldest, a tenth at once.
 *
 * @example
 * ```ts
 * const counter = new MemoryRateCounter();
 * counter.take('dep_1|api_key:key_1', { requests: 100, per: 'minute' }).allowed; // true
 * ```
 */
export class MemoryRateCounter implements RateCounter {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 100_000,
  ) {}

  take(key: string, limit: RateLimit): RateCount {
    const now = this.now();
    const { index, resetMs } = windowAt(now, limit);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      makeRoom(this.slots, this.maxEntries, (slot) => slot.ends <= now);
      slot = { window: index, count: 0, ends: now + resetMs };
      this.slots.set(key, slot);
    } else if (slot.window !== index) {
      slot.window = index;
      slot.count = 0;
      slot.ends = now + resetMs;
    }
    slot.count++;
    return countVerdict(slot.count, limit, resetMs);
  }
}
