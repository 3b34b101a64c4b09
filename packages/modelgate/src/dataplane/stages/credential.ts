import type { ClusterGate } from '../../http/health.js';
import type { RequestHead } from '../../http/request-head.js';
import { authorizationHeaderCount } from '../../kernel/authorization-header.js';
import { deny, isDenial } from '../../kernel/denial.js';
import type { Verification } from '../../kernel/pending-check.js';
import { ANONYMOUS } from '../../kernel/principal.js';
import { type Refusal, refusalFor } from '../admission-result.js';
import {
  authenticateBearer,
  authenticateDeploymentRequest,
  type DataPlaneVerifiers,
  requiresCredential,
} from '../authenticate.js';
import { readCredentialCookie } from '../browser-cookie.js';
import type { Routed } from './route.js';

/**
 * A protected deployment called without `Authorization` (B7): the browser-access cookie's token,
 * verified like a Bearer header. `cookie` is what the cookie held (a token, a refusal of a
 * malformed or duplicated one, or nothing), for how a refusal is answered to a browser.
 */
export class CookieCredential {
  constructor(
    readonly cookie: string | ReturnType<typeof deny> | undefined,
    readonly verification: Verification,
  ) {}
}

/**
 * The credential stage: who is calling a routed deployment, decided by the verifiers and
 * `authorize` (anonymous on a public deployment or with token authorization off). Two
 * `Authorization` headers are refused (node keeps only the first; a proxy behind us might keep
 * the other). Cookies are looked at only without an `Authorization` header, on a protected
 * deployment.
 *
 * @example
 * ```ts
 * const credential = credentialOf(req, routed, verifiers); // Principal, Denial, PendingCheck, CookieCredential or Refusal
 * ```
 */
export function credentialOf(
  req: RequestHead,
  routed: Routed,
  verifiers: DataPlaneVerifiers,
  /** A cluster replica's standing (issue 20): out of step, it admits no credential (fails closed). */
  cluster?: ClusterGate,
): Verification | CookieCredential | Refusal {
  const authorizations = authorizationHeaderCount(req.rawHeaders);
  if (authorizations > 1) {
    return refusalFor({ denied: 'ambiguous', detail: 'More than one Authorization header was sent' }, routed.route);
  }
  const snapshot = routed.route.snapshot;
  if (!requiresCredential(snapshot, verifiers)) return ANONYMOUS;
  // A replica that may have missed a revocation admits no credential.
  if (cluster?.ready() === false) return { code: 'NOT_READY', message: cluster.reason(), deployment: snapshot.name };
  if (authorizations > 0) return authenticateDeploymentRequest(req, snapshot, verifiers);
  const cookie = readCredentialCookie(req.headers.cookie);
  const verification =
    cookie === undefined
      ? deny('missing')
      : isDenial(cookie)
        ? cookie
        : authenticateBearer(cookie, snapshot, verifiers);
  return new CookieCredential(cookie, verification);
}
