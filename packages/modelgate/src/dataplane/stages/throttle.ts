import type { ClientAddress } from '../../http/client-address.js';
import { clientKey } from '../../http/failure-throttle.js';
import type { RequestHead } from '../../http/request-head.js';
import { attemptOutcome, type Throttle } from '../../http/throttle.js';
import { type Denial, isDenial } from '../../kernel/denial.js';
import { PendingCheck, type Verification } from '../../kernel/pending-check.js';
import type { Principal } from '../../kernel/principal.js';
import type { Logger } from '../../log/logger.js';
import { type Admission, type Admitted, lockedOut, type Refusal, refusalFor } from '../admission-result.js';
import type { Route } from '../route-table.js';

/** What the throttle stage needs of the gateway. */
export interface ThrottleStage {
  readonly throttle: Throttle;
  /** The address throttles key on (`trusted_proxies` decides). */
  readonly clientAddress: ClientAddress;
  readonly log: Logger;
}

/**
 * The throttle stage: the failure throttle around one verification, keyed on the client address
 * and the deployment (X3). A credential decided from memory is admitted unless the address is
 * locked out; a denial is counted like any attempt; a check that needs the store or scrypt runs
 * only once an attempt was reserved, so parallel guesses cannot all reach them. A store that
 * cannot answer is a 503, never a 500 or an admission.
 *
 * @example
 * ```ts
 * const outcome = throttled(verification, req, route, '/predict', stage); // Admitted, Refusal or a promise of one
 * ```
 */
export function throttled(
  verification: Verification,
  req: RequestHead,
  route: Route,
  rest: string,
  stage: ThrottleStage,
): Admission {
  // Computed once per request (and without allocation when no proxy is trusted).
  const client = clientKey(stage.clientAddress(req));
  const key = `${client}|${route.snapshot.id}`;
  if (verification instanceof PendingCheck) return admitPending(verification, client, key, route, rest, stage);
  if (isDenial(verification)) return refuseCounted(verification, key, route, stage.throttle);
  // A cached credential or a node key: no attempt to reserve, but a locked-out address stays out.
  const locked = stage.throttle.lockedFor(key);
  if (locked > 0) return lockedOut(locked, route, verification);
  return { route, rest, principal: verification };
}

/**
 * A cache miss: reserve an attempt first; `client` (the address key) is the check's share of a
 * node-wide cap.
 */
async function admitPending(
  check: PendingCheck,
  client: string,
  key: string,
  route: Route,
  rest: string,
  stage: ThrottleStage,
): Promise<Admitted | Refusal> {
  const wait = await stage.throttle.enter(key);
  if (wait > 0) return lockedOut(wait, route);
  let principal: Principal | Denial;
  try {
    principal = await check.run(client);
  } catch (err) {
    stage.throttle.release(key);
    // Only an unknown credential reaches the store; when it cannot answer, say so (503), not 500.
    stage.log.warn({ err: String(err), deployment: route.snapshot.name }, 'credential lookup failed');
    return {
      code: 'NOT_READY',
      message: 'The credential cannot be checked right now; retry later',
      deployment: route.snapshot.name,
    };
  }
  if (isDenial(principal)) {
    await settle(stage.throttle, key, principal);
    return refusalFor(principal, route);
  }
  stage.throttle.release(key);
  return { route, rest, principal };
}

/** A denial decided from memory: counted like any attempt (a locked-out caller gets 429 first). */
async function refuseCounted(denial: Denial, key: string, route: Route, throttle: Throttle): Promise<Refusal> {
  const wait = await throttle.enter(key);
  if (wait > 0) return lockedOut(wait, route);
  await settle(throttle, key, denial);
  return refusalFor(denial, route);
}

/**
 * Counts a denial whose attempt was reserved, by the same rule as `FailureThrottle.attempt`
 * (`attemptOutcome`). Awaited, so a lock the failure causes is in force (in every worker)
 * before the answer.
 */
async function settle(throttle: Throttle, key: string, denial: Denial): Promise<void> {
  if (attemptOutcome(denial) === 'fail') await throttle.fail(key);
  else throttle.release(key);
}
