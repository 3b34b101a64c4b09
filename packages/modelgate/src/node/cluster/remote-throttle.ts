import type { Throttle } from '../../dataplane/throttle.js';
import type { Channel } from './channel.js';

const MAX_LOCKS = 100_000;

/**
 * A worker's failure throttle: the count lives in the primary, asked only on a cache miss or a
 * failure. Locks the primary announces are mirrored here, so the cache-hit path (`lockedFor`)
 * stays a local map read.
 */
export class RemoteThrottle implements Throttle {
  private readonly locks = new Map<string, number>();

  constructor(
    private readonly primary: Channel,
    private readonly now: () => number = Date.now,
  ) {}

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
    const until = this.locks.get(key);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.locks.delete(key);
    return 0;
  }

  /** A lock announced by the primary (epoch ms); bounded, oldest forgotten first. */
  mirror(key: string, until: number): void {
    this.locks.delete(key);
    if (this.locks.size >= MAX_LOCKS) {
      const oldest = this.locks.keys().next();
      if (!oldest.done) this.locks.delete(oldest.value);
    }
    this.locks.set(key, until);
  }
}
