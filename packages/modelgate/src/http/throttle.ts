import { type Denial, denyForNow, isDenial } from '../kernel/denial.js';
import type { Principal } from '../kernel/principal.js';

/**
 * What both planes ask of failure throttling (X3). `FailureThrottle` answers in-process; a
 * worker of a multi-process node asks the primary, which holds the node's count, and with
 * `redis_url` a `SharedFailureThrottle` counts across replicas, so `enter` and `fail` may be
 * asynchronous. `lockedFor` is always synchronous: it is the only call on the cache-hit path.
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

/** What an authentication attempt does to its client's record. */
export type AttemptOutcome = 'fail' | 'release';

/**
 * How an attempt's result counts: every refused credential (bad, unknown, expired, revoked,
 * malformed, or refused for the client's own share of a cap) is a failure; no credential, a
 * valid one without access (403) and a node-wide cap the client did not fill are not. A success
 * is a `release` too: it never clears failures, or one valid credential slipped in among guesses
 * would reset the count.
 */
export function attemptOutcome(result: Principal | Denial): AttemptOutcome {
  if (!isDenial(result)) return 'release';
  return result.denied === 'missing' || result.denied === 'forbidden' || result.denied === 'busy' ? 'release' : 'fail';
}

/** The denial for a key that must wait `seconds` (locked, or its attempts are all in flight). */
export function throttledFor(seconds: number): Denial {
  return denyForNow('throttled', seconds, 'Too many failed authentications from this address');
}

/**
 * Runs one authentication attempt for `key` under `throttle`: refused at once (a `throttled`
 * denial with `retryAfter`) when the key is locked or its in-flight attempts would pass the
 * limit; otherwise `verify` runs and its result is counted ({@link attemptOutcome}), a lock it
 * causes in force everywhere before this resolves. A throw releases the attempt and propagates.
 *
 * @example
 * ```ts
 * const result = await attempt(throttle, `${clientKey(address)}|management`, () => verify(credential));
 * ```
 */
export async function attempt(
  throttle: Throttle,
  key: string,
  verify: () => Promise<Principal | Denial>,
): Promise<Principal | Denial> {
  const wait = await throttle.enter(key);
  if (wait > 0) return throttledFor(wait);
  let result: Principal | Denial;
  try {
    result = await verify();
  } catch (err) {
    throttle.release(key);
    throw err;
  }
  if (attemptOutcome(result) === 'fail') await throttle.fail(key);
  else throttle.release(key);
  return result;
}
