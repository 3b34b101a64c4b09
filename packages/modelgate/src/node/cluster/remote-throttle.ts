import type { Throttle } from '../../http/throttle.js';
import { ExpiryMap } from '../../kernel/expiry-map.js';
import type { Channel } from './channel.js';

const MAX_LOCKS = 100_000;

/**
 * A worker's failure throttle: the count lives in the primary, asked only on a cache miss or a
 * failure. Locks the primary announces (its own, and with Redis other replicas') are mirrored
 * here, so the cache-hit path (`lockedFor`) stays a local map read.
 */
export class RemoteThrottle implements Throttle {
  private readonly locks: ExpiryMap;

  constructor(
    private readonly primary: Channel,
    now: () => number = Date.now,
  ) {
    this.locks = new ExpiryMap(MAX_LOCKS, now);
  }

  enter(key: string): Promise<number> {
    return this.primary.call<number>('enter', key);
  }

  /** Resolves once the primary counted it and, if it locked the key, every worker mirrors the lock. */
  async fail(key: string): Promise<void> {
    await this.primary.call('fail', key);
  }

  release(key: string): void {
    this.primary.notify('release', key);
  }

  lockedFor(key: string): number {
    return this.locks.secondsLeft(key);
  }

  /** A lock announced by the primary (epoch ms); bounded, oldest forgotten first. */
  mirror(key: string, until: number): void {
    this.locks.set(key, until);
  }
}
