import { throttledFor } from '../http/throttle.js';
import { type Denial, type DenialReason, denialCode } from '../kernel/denial.js';
import { ERROR_CODES, type ErrorCode } from '../kernel/errors.js';
import type { Principal } from '../kernel/principal.js';
import { deploymentChallenges } from './authenticate.js';
import type { Route } from './route-table.js';
import type { SignInPageOptions } from './sign-in-page.js';

/** Where a request goes, once every admission stage agreed. */
export interface Admitted {
  readonly route: Route;
  /** The path and query the upstream gets. */
  readonly rest: string;
  readonly principal: Principal;
  /** The token, when it came from the browser-access cookie rather than `Authorization`. */
  readonly cookieToken?: string;
}

/** A refusal, decided once and rendered either on a response or on a raw upgrade socket. */
export interface Refusal {
  readonly code: ErrorCode;
  readonly message?: string;
  readonly headers?: Record<string, string | string[]>;
  /** The deployment refused, once routing found it (for the audit log, the access line, metrics). */
  readonly deployment?: string;
  /** Why authentication or authorization refused it. */
  readonly reason?: DenialReason;
  /** The verified caller, when the refusal came after its credential was proven. */
  readonly caller?: Principal;
  /** A browser's page load: answer with the sign-in page rather than JSON (B7). */
  readonly page?: SignInPageOptions;
}

/** What admission decides: synchronously whenever memory can, else a promise. */
export type Admission = Admitted | Refusal | Promise<Admitted | Refusal>;

/** Whether an admission's outcome is a refusal. */
export function isRefusal(outcome: Admitted | Refusal): outcome is Refusal {
  return 'code' in outcome;
}

/**
 * The refusal of a denial on a routed deployment: its registry code, `Retry-After` when it says
 * when to come back, and on a 401 every challenge the deployment accepts.
 */
export function refusalFor(denial: Denial, route: Route): Refusal {
  const code = denialCode(denial.denied);
  const refusal: Refusal = {
    code,
    deployment: route.snapshot.name,
    reason: denial.denied,
    ...(denial.detail ? { message: denial.detail } : {}),
    ...(denial.caller ? { caller: denial.caller } : {}),
  };
  if (denial.retryAfter !== undefined) return { ...refusal, headers: { 'retry-after': String(denial.retryAfter) } };
  if (ERROR_CODES[code].status !== 401) return refusal;
  return { ...refusal, headers: { 'www-authenticate': deploymentChallenges(route.snapshot, denial.denied) } };
}

/** The failure throttle said wait: the same refusal `FailureThrottle.attempt` gives. */
export function lockedOut(seconds: number, route: Route, caller?: Principal): Refusal {
  const denial = throttledFor(seconds);
  return refusalFor(caller ? { ...denial, caller } : denial, route);
}

/** A refusal's message and headers, as `sendError` takes them. */
export function refusalOptions(refusal: Refusal) {
  return { ...(refusal.message ? { message: refusal.message } : {}), headers: refusal.headers ?? {} };
}
