/**
 * What the gateway asks of failure throttling (X3). `FailureThrottle` answers in-process; a
 * worker of a multi-process node asks the primary, which holds the one count, so `enter` and
 * `fail` may be asynchronous there. `lockedFor` is always synchronous: it is the only call on
 * the cache-hit path.
 */
export interface Throttle {
  /** Reserves an attempt: 0 when the caller may try now, otherwise the seconds to wait. */
  enter(key: string): number | Promise<number>;
  /** The attempt failed; resolves once a lock it caused is in force everywhere. */
  fail(key: string): void | Promise<void>;
  /** The attempt did not fail (a success too: no success clears failures); its reservation ends. */
  release(key: string): void;
  /** Seconds the key is still locked out, 0 when it is not; reserves nothing. */
  lockedFor(key: string): number;
}
