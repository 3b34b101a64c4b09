import type { Config } from '../config/schema.js';
import { MemoryRateCounter, type RateCounter } from '../dataplane/rate-counter.js';
import { RedisRateCounter } from '../dataplane/redis-rate-counter.js';
import { ExpensiveCheckLimiter } from '../http/expensive-check-limiter.js';
import { FailureThrottle } from '../http/failure-throttle.js';
import { SharedFailureThrottle } from '../http/shared-throttle.js';
import type { Throttle } from '../http/throttle.js';
import type { Logger } from '../log/logger.js';
import { RedisLink } from '../store/redis-link.js';
import { SharedMarks } from '../store/shared-marks.js';

/**
 * What a node counts about its clients: in memory, or with `redis_url` across every replica
 * through the node's one {@link RedisLink}.
 */
export interface SharedCounters {
  /** The node's Redis link; undefined without `redis_url`. The node closes it when it stops. */
  readonly redis: RedisLink | undefined;
  /**
   * A failure throttle with the configured limit and window (`name` keeps the counts of two
   * throttles apart in Redis): a {@link SharedFailureThrottle} with Redis, else in-process.
   */
  failureThrottle(name: string, options?: { readonly opaqueKeys?: boolean }): Throttle;
  /** Where rate limits are counted (X3): see {@link rateCounterOn}. */
  rateCounter(clock?: () => number): RateCounter;
  /**
   * The node's one cap on password checks: capacity and shares per replica; with Redis, a
   * client that failed a check on any replica is `suspect` on all of them.
   */
  readonly passwordChecks: ExpensiveCheckLimiter;
}

/**
 * Opens the node's counters: connects to Redis when `redis_url` is set (waiting at most a
 * second or `redis_timeout_ms` for it; an unreachable Redis is logged and retried, and the
 * counters are local meanwhile).
 *
 * @example
 * ```ts
 * const counters = await openSharedCounters(config, log);
 * const throttle = counters.failureThrottle('management');
 * ```
 */
export async function openSharedCounters(config: Config, log: Logger): Promise<SharedCounters> {
  const windowMs = config.failure_window_s * 1000;
  const redis = config.redis_url
    ? new RedisLink({
        url: config.redis_url,
        prefix: config.redis_key_prefix,
        timeoutMs: config.redis_timeout_ms,
        log,
      })
    : undefined;
  const suspects = redis ? new SharedMarks(redis, 'password-suspects') : undefined;
  // A failed check makes its client suspect for the same window failures are counted in.
  const passwordChecks = new ExpensiveCheckLimiter(config.password_check_concurrency, {
    failureWindowMs: windowMs,
    onFailure: suspects
      ? (client, until) => {
          void suspects.mark(client, until);
        }
      : undefined,
  });
  suspects?.onMark((client, until) => passwordChecks.suspect(client, until));
  await redis?.whenUp(Math.max(1000, config.redis_timeout_ms));
  return {
    redis,
    passwordChecks,
    failureThrottle(name, options = {}) {
      if (!redis) return new FailureThrottle({ limit: config.failure_limit, windowMs });
      return new SharedFailureThrottle({ name, limit: config.failure_limit, windowMs, link: redis, ...options });
    },
    rateCounter: (clock) => rateCounterOn(redis, clock),
  };
}

/**
 * Where a node counts rate limits (X3): in Redis when `redis_url` is set (every replica shares
 * the counts; memory while Redis is unreachable), else in memory. A multi-process node counts in
 * its primary, which asks the same of its Redis link.
 */
export function rateCounterOn(redis: RedisLink | undefined, clock?: () => number): RateCounter {
  const local = new MemoryRateCounter(clock);
  return redis ? new RedisRateCounter(redis, local, clock) : local;
}

/** `/_health/ready`'s detail about Redis: `{ redis: "up" | "down" }`, nothing without `redis_url`. */
export function redisDetail(up: boolean | undefined | null): Readonly<Record<string, string>> | undefined {
  return up === undefined || up === null ? undefined : { redis: up ? 'up' : 'down' };
}
