import type { ClientAddress } from '../../http/client-address.js';
import { clientKey } from '../../http/failure-throttle.js';
import { attempt, type Throttle } from '../../http/throttle.js';
import type { ManagementAuthenticator } from '../authenticator.js';

/**
 * The management listener's failure throttle: every credential it checks (`/api/v1`, `/token`)
 * goes through a failure throttle with the data plane's rules ({@link Throttle}: in-process, or
 * with `redis_url` counted across replicas), keyed by the client address ({@link ClientAddress})
 * alone, so guesses at admin keys, node keys or tokens are limited across all routes together.
 * A locked address gets a `throttled` denial (429 with `Retry-After`) before any lookup.
 *
 * @example
 * ```ts
 * const authenticate = throttledAuthenticator(createManagementAuthenticator(verifiers), throttle, clientAddress);
 * ```
 */
export function throttledAuthenticator(
  authenticate: ManagementAuthenticator,
  throttle: Throttle,
  clientAddress: ClientAddress,
): ManagementAuthenticator {
  return (req) => attempt(throttle, managementThrottleKey(clientAddress(req)), () => authenticate(req));
}

/** The throttle key of a management caller: its address, on a key space apart from deployments'. */
export function managementThrottleKey(address: string | undefined): string {
  return `${clientKey(address)}|management`;
}
