import type { RequestHead } from '../http/request-head.js';
import { ERROR_CODES } from '../kernel/errors.js';
import type { Admitted, Refusal } from './admission-result.js';
import { cookieScope, pageError, wantsSignInPage } from './browser-access.js';
import { clearCredentialCookie } from './browser-cookie.js';
import type { CookieCredential } from './stages/credential.js';
import type { Routed } from './stages/route.js';

/**
 * How an admission that came by the browser-access cookie (B7) is answered: an admission keeps
 * the cookie's token (forwarded when the deployment forwards credentials); a refused cookie is
 * cleared, so the browser stops presenting it (a throttled one may be fine), and a page load gets
 * the sign-in page instead of JSON.
 *
 * @example
 * ```ts
 * const answer = browserAnswer(req, outcome, routed, credential, 'https');
 * ```
 */
export function browserAnswer(
  req: RequestHead,
  outcome: Admitted | Refusal,
  routed: Routed,
  credential: CookieCredential,
  proto: 'http' | 'https',
): Admitted | Refusal {
  const cookie = credential.cookie;
  if (!('code' in outcome)) return typeof cookie === 'string' ? { ...outcome, cookieToken: cookie } : outcome;
  const status = ERROR_CODES[outcome.code].status;
  const sentCookie = cookie !== undefined;
  const target = { deployment: routed.deployment, hostRouted: routed.hostRouted };
  let answer = outcome;
  if (sentCookie && (status === 401 || status === 403)) {
    const cleared = clearCredentialCookie(cookieScope(target, proto === 'https'));
    answer = { ...answer, headers: { ...answer.headers, 'set-cookie': cleared } };
  }
  if (
    (status === 401 || status === 403 || status === 429) &&
    wantsSignInPage(req.method, req.headers.accept, routed.route.snapshot)
  ) {
    const error = pageError(outcome, sentCookie);
    answer = { ...answer, page: { ...target, returnTo: req.url ?? '/', error } };
  }
  return answer;
}
