import { createHash } from 'node:crypto';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { ExpiryMap } from '../kernel/expiry-map.js';
import type { RedisLink } from '../store/redis-link.js';
import { SharedMarks } from '../store/shared-marks.js';
import { FailureThrottle } from './failure-throttle.js';
import type { Throttle } from './throttle.js';

const MAX_LOCKS = 100_000;

/** How a {@link SharedFailureThrottle} counts. */
export interface SharedThrottleOptions {
  /** Its name among the node's throttles (`data`, `management`, ...): its Redis keys and channel. */
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  /** Redis (`redis_url`); without it the throttle counts in this process only. */
  readonly link?: RedisLink;
  /**
   * Keys are hashed (SHA-256) before they are counted, mirrored or sent to Redis: for keys that
   * may hold what someone typed (a sign-in's username field may hold a password).
   */
  readonly opaqueKeys?: boolean;
  readonly now?: () => number;
}

/**
 * The failure throttle of a replica that shares its counts through Redis (`redis_url`), by the
 * rules of {@link FailureThrottle}: the `limit`-th failure of a key in a window locks it for a
 * window, and failures plus attempts being checked may not pass `limit`, counted across every
 * replica. Used for the data plane (with `workers`: in the primary), the management listener and
 * both sign-in throttles.
 *
 * - Every attempt is also counted in this process (a {@link FailureThrottle}): the stricter of
 *   the two counts decides, and while Redis is down (or a command passes `redis_timeout_ms`)
 *   the local count alone does.
 * - In Redis (`rate-limiter-flexible`, `RateLimiterRedis`): `reserved` counts failures and
 *   attempts in flight (`consume` on enter, `reward` on a non-failure), `failed` counts
 *   failures in a window that opens at the first one; the `limit`-th failure `block`s both for
 *   a window.
 * - A lock (made here, heard from another replica, or found in Redis) goes into a local mirror,
 *   so `lockedFor`, the cache-hit path, is a map read. A failure that locks resolves once every
 *   replica that answers within `redis_timeout_ms` mirrors the lock (and, through
 *   {@link onLock}, its workers).
 *
 * @example
 * ```ts
 * const throttle = new SharedFailureThrottle({ name: 'data', limit: 10, windowMs: 60_000, link: redis });
 * throttle.onLock((key, until) => tellWorkers(key, until));
 * const wait = await throttle.enter(key); // 0: go ahead; otherwise Retry-After seconds
 * ```
 */
export class SharedFailureThrottle implements Throttle {
  private readonly local: FailureThrottle;
  private readonly locks: ExpiryMap;
  /** Reservations this process holds in Redis, per key (a release gives back only those). */
  private readonly held = new Map<string, number>();
  private readonly lockListeners: ((key: string, until: number) => unknown)[] = [];
  private readonly shared:
    | { readonly reserved: RateLimiterRedis; readonly failed: RateLimiterRedis; readonly marks: SharedMarks }
    | undefined;
  private readonly now: () => number;
  private readonly link: RedisLink | undefined;

  constructor(private readonly options: SharedThrottleOptions) {
    this.now = options.now ?? Date.now;
    this.local = new FailureThrottle({ limit: options.limit, windowMs: options.windowMs, now: this.now });
    this.locks = new ExpiryMap(MAX_LOCKS, this.now);
    this.link = options.link;
    if (!this.link) return;
    const limiter = (counter: string) =>
      new RateLimiterRedis({
        storeClient: this.link!.client,
        keyPrefix: this.link!.key('throttle', options.name, counter),
        points: options.limit,
        duration: windowSeconds(options.windowMs),
        // Down: reject at once (the local count decides) rather than wait for a reconnection.
        rejectIfRedisNotReady: true,
      });
    const marks = new SharedMarks(this.link, `throttle:${options.name}`, this.now);
    marks.onMark((key, until) => this.apply(key, until));
    this.shared = { reserved: limiter('reserved'), failed: limiter('failed'), marks };
  }

  /**
   * Calls `listener` for every lock this throttle learns of (its own, another replica's, one
   * loaded after a reconnection), with the key as the throttle keeps it (hashed with
   * `opaqueKeys`); a lock is in force once the listeners settled (the primary of a
   * multi-process node tells its workers here).
   */
  onLock(listener: (key: string, until: number) => unknown): void {
    this.lockListeners.push(listener);
  }

  async enter(key: string): Promise<number> {
    const id = this.idOf(key);
    const locked = this.locks.secondsLeft(id);
    if (locked > 0) return locked;
    const wait = this.local.enter(id);
    if (wait > 0 || !this.shared || !this.link?.up) return wait;
    try {
      await this.shared.reserved.consume(id);
      this.held.set(id, (this.held.get(id) ?? 0) + 1);
      return 0;
    } catch (err) {
      // Redis did not answer (in time): the local reservation stands, the local count decides.
      if (!(err instanceof RateLimiterRes)) return 0;
    }
    // Over the shared count: give back both reservations, and find out whether it is a lock.
    this.local.release(id);
    this.shared.reserved.reward(id).catch(() => {});
    const failed = await this.shared.failed.get(id).catch(() => null);
    const left = lockLeftMs(failed, this.options.limit);
    // Locked by a replica whose announcement has not arrived (or was missed): mirror it now.
    if (left > 0) await this.apply(id, this.now() + left);
    return left > 0 ? Math.ceil(left / 1000) : 1;
  }

  async fail(key: string): Promise<void> {
    const id = this.idOf(key);
    this.local.fail(id);
    let lock = this.local.lockedFor(id) > 0;
    let shared = this.shared !== undefined && this.link?.up === true;
    if (this.shared && shared) {
      // A reservation made while Redis was away still counts as a failure now.
      if (!this.unhold(id)) this.shared.reserved.penalty(id).catch(() => {});
      try {
        const failures = await this.shared.failed.consume(id);
        lock ||= failures.consumedPoints >= this.options.limit;
      } catch (err) {
        // Past the limit: locked already (this failure renews the lock, as in FailureThrottle).
        if (err instanceof RateLimiterRes) lock = true;
        else shared = false;
      }
    } else {
      this.unhold(id);
    }
    if (lock) await this.lock(id, shared);
  }

  release(key: string): void {
    const id = this.idOf(key);
    this.local.release(id);
    if (this.unhold(id)) this.shared?.reserved.reward(id).catch(() => {});
  }

  lockedFor(key: string): number {
    return this.locks.secondsLeft(this.options.opaqueKeys ? hashKey(key) : key);
  }

  /** Locks `id` for a window from now: here and in this node's workers, then on every replica. */
  private async lock(id: string, shared: boolean): Promise<void> {
    const until = this.now() + this.options.windowMs;
    await this.apply(id, until);
    if (!this.shared || !shared) return;
    const seconds = windowSeconds(this.options.windowMs);
    await Promise.allSettled([
      this.shared.reserved.block(id, seconds),
      this.shared.failed.block(id, seconds),
      this.shared.marks.mark(id, until),
    ]);
  }

  /** A lock in force in this process (and, through the listeners, its workers). */
  private async apply(id: string, until: number): Promise<void> {
    this.locks.set(id, until);
    await Promise.all(this.lockListeners.map((listener) => listener(id, until)));
  }

  private unhold(id: string): boolean {
    const n = this.held.get(id);
    if (n === undefined) return false;
    if (n > 1) this.held.set(id, n - 1);
    else this.held.delete(id);
    return true;
  }

  private idOf(key: string): string {
    return this.options.opaqueKeys ? hashKey(key) : key;
  }
}

/**
 * What is left of a lock, in ms, by the shared failures counter of a key whose reservation was
 * refused: the counter is blocked (past `limit`) for that long; 0 when it is not, and the
 * refusal only means attempts in flight fill the limit (they settle soon: wait 1 s).
 */
export function lockLeftMs(failed: { consumedPoints: number; msBeforeNext: number } | null, limit: number): number {
  return failed && failed.consumedPoints > limit && failed.msBeforeNext > 0 ? failed.msBeforeNext : 0;
}

/** A window in whole seconds, as Redis keys expire (rounded up, at least 1). */
export function windowSeconds(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / 1000));
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
