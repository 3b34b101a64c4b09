import type { Denial } from './denial.js';
import type { Principal } from './principal.js';

/**
 * A verification that could not be decided from memory: the credential is not cached and
 * needs the store or a slow password hash. The gateway reserves a failure-throttle attempt
 * first and only then calls `run`, so a locked-out client never reaches the store or scrypt.
 */
export class PendingCheck<T = Principal | Denial> {
  /**
   * @param run the check; `client` is the caller's throttling identity (its address key), for its
   * share of a node-wide cap on slow checks.
   */
  constructor(readonly run: (client: string) => Promise<T>) {}
}

/**
 * What a data-plane verifier answers: decided at once (a cache hit, a node key, a malformed
 * credential), or a `PendingCheck` for a cache miss.
 */
export type Verification = Principal | Denial | PendingCheck;
