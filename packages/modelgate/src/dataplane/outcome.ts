import type { ErrorCode } from '../kernel/errors.js';

/**
 * How a data-plane request ended, for `modelgate_requests_total{outcome}`: a closed set, so the
 * label stays bounded.
 *
 * - `allowed`: forwarded, and the upstream answered (whatever its status);
 * - `denied`: refused by authentication or authorization (401, 403, 429);
 * - `not_found`: no such deployment (404);
 * - `invalid`: a request the gateway refuses by its shape (400);
 * - `unavailable`: the deployment is disabled, its settings cannot be read, or the node is stopping (503);
 * - `upstream_error`: forwarded, and the upstream could not be reached or timed out (502, 504);
 * - `aborted`: the caller went away before the answer was complete;
 * - `error`: a gateway bug (500).
 */
export const OUTCOMES = [
  'allowed',
  'denied',
  'not_found',
  'invalid',
  'unavailable',
  'upstream_error',
  'aborted',
  'error',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

/**
 * The outcome of a finished request (positional arguments: called once per request, so no
 * object is built for it).
 *
 * @param aborted the response did not finish (the caller left)
 * @param upstreamAnswered the upstream sent a response head
 * @param code the registry code, when the gateway answered an error itself
 * @param denied authentication or authorization refused it
 *
 * @example
 * ```ts
 * outcomeOf(false, false, 'UPSTREAM_UNAVAILABLE', false); // 'upstream_error'
 * ```
 */
export function outcomeOf(
  aborted: boolean,
  upstreamAnswered: boolean,
  code: ErrorCode | undefined,
  denied: boolean,
): Outcome {
  if (aborted) return 'aborted';
  if (upstreamAnswered) return 'allowed';
  if (denied) return 'denied';
  switch (code) {
    case undefined:
      // Answered without the upstream and without an error: cannot happen; counted as allowed.
      return 'allowed';
    case 'DEPLOYMENT_NOT_FOUND':
      return 'not_found';
    case 'DEPLOYMENT_DISABLED':
    case 'NOT_READY':
    case 'SHUTTING_DOWN':
      return 'unavailable';
    case 'UPSTREAM_UNAVAILABLE':
    case 'UPSTREAM_TIMEOUT':
      return 'upstream_error';
    case 'INTERNAL':
      return 'error';
    default:
      return 'invalid';
  }
}

/**
 * The code of an error the proxy answered itself (the upstream sent no head), from the status
 * it wrote: the proxy writes only these three.
 */
export function proxyErrorCode(status: number): ErrorCode | undefined {
  if (status === 502) return 'UPSTREAM_UNAVAILABLE';
  if (status === 504) return 'UPSTREAM_TIMEOUT';
  if (status === 503) return 'SHUTTING_DOWN';
  return undefined;
}
