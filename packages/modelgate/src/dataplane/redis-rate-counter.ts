import type { RateLimit } from '../kernel/rate-limit.js';
import { windowMs } from '../kernel/rate-limit.js';
import type { RedisLink } from '../store/redis-link.js';
import { countVerdict, type RateCount, type RateCounter, windowAt } from './rate-counter.js';

/**
 * Rate limits counted in Redis, shared by every replica (X3): one key per limit and window
 * (`<prefix>rate:<key>:<window>`, windows aligned to the clock as in memory), one `INCR` per
 * request, so N replicas admit exactly `requests` per window between them. Two plain commands
 * in one round trip, no script: `INCR` is atomic, and the expiry only clears the key after its
 * window. While Redis is down or slow (`redis_timeout_ms`) the replica counts in `local`, as
 * the shared throttles do; those counts are not merged back.
 *
 * @example
 * ```ts
 * const rates = new RedisRateCounter(link, new MemoryRateCounter());
 * await rates.take('dep_1|api_key:key_1', { requests: 100, per: 'minute' }); // { allowed: true, remaining: 99, ... }
 * ```
 */
export class RedisRateCounter implements RateCounter {
  constructor(
    private readonly link: RedisLink,
    private readonly local: RateCounter,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string, limit: RateLimit): RateCount | Promise<RateCount> {
    if (!this.link.up) return this.local.take(key, limit);
    const { index, resetMs } = windowAt(this.now(), limit);
    const name = this.link.key('rate', key, String(index));
    return this.link.client
      .multi()
      .incr(name)
      .pexpire(name, windowMs(limit.per) + 1000)
      .exec()
      .then((replies) => {
        const count = Number(replies?.[0]?.[1]);
        if (!Number.isSafeInteger(count)) throw new Error('Redis gave no count');
        return countVerdict(count, limit, resetMs);
      })
      .catch(() => this.local.take(key, limit));
  }
}
