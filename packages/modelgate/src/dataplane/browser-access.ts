import type { IncomingHttpHeaders } from 'node:http';
import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import { ERROR_CODES, type ErrorCode } from '../kernel/errors.js';
import type { CookieScope } from './browser-cookie.js';
import { splitHostRoutedPath, splitInferencePath } from './path.js';
import { BROWSER_PREFIX } from './sign-in-page.js';

/**
 * The decisions of browser access (B7), pure: when a refusal becomes the sign-in page, whether a
 * form really comes from the gateway's own page, where a signed-in browser may be sent back to,
 * and what the page says about a refusal.
 */

/** The deployment a browser signs in to, and how it was reached. */
export interface BrowserTarget {
  readonly deployment: string;
  /** Reached as `<deployment>.<base_domain>` (its cookie lives on `/` of that host). */
  readonly hostRouted: boolean;
}

/**
 * Where a deployment's cookie lives: `Path=/<deployment>` under path routing (`/demo` does not
 * match `/demo2`), `/` of the deployment's own host under host routing (host-only: no `Domain`,
 * so sibling deployments never receive it).
 */
export function cookieScope(target: BrowserTarget, secure: boolean): CookieScope {
  return { path: target.hostRouted ? '/' : `/${target.deployment}`, secure };
}

/**
 * Whether a refused request should get the sign-in page rather than JSON: a page load (`GET` or
 * `HEAD` asking for HTML) of a deployment that does not take Basic credentials; there, the
 * browser's own Basic prompt (from `WWW-Authenticate`) is the sign-in page.
 *
 * @example
 * ```ts
 * wantsSignInPage('GET', 'text/html,application/xhtml+xml', snapshot); // true (a page load)
 * wantsSignInPage('GET', 'application/json', snapshot);              // false (a script)
 * ```
 */
export function wantsSignInPage(
  method: string | undefined,
  accept: string | undefined,
  snapshot: DeploymentSnapshot,
): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (accept === undefined || !accept.toLowerCase().includes('text/html')) return false;
  return snapshot.basic === null;
}

/**
 * The scheme of a form post that comes from this gateway's own page, or `undefined` for any
 * other (login CSRF, sign-out CSRF). Browsers send `Origin` on every `POST`; it must be this
 * listener's origin as the browser sees it: `Host` with the listener's scheme, or `https` too on
 * a plain listener (a TLS-terminating proxy in front). `Sec-Fetch-Site`, when sent, must be
 * `same-origin`: with host routing, a sibling deployment's page is same-*site*. A missing or
 * `null` `Origin` is refused: no browser form of ours lacks it, and nothing else needs this route.
 *
 * @example
 * ```ts
 * formOrigin({ host: 'gw:8080', origin: 'http://gw:8080' }, 'http');   // 'http'
 * formOrigin({ host: 'gw:8080', origin: 'http://evil:8080' }, 'http'); // undefined
 * ```
 */
export function formOrigin(headers: IncomingHttpHeaders, proto: 'http' | 'https'): 'http' | 'https' | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site.trim().toLowerCase() !== 'same-origin') return undefined;
  const { origin, host } = headers;
  if (origin === undefined || host === undefined || host.length === 0) return undefined;
  const seen = origin.toLowerCase();
  const own = host.toLowerCase();
  if (seen === `https://${own}`) return 'https';
  if (proto === 'http' && seen === `http://${own}`) return 'http';
  return undefined;
}

/**
 * Where a browser goes after signing in: `candidate` when it is a valid request target of the
 * same deployment (path routing: `/<deployment>` or below it; host routing: any valid path on
 * that host except the gateway's own routes), else the deployment's root. Never another host or
 * deployment: protocol-relative `//host`, backslashes, encoded slashes and dot segments all fail
 * the data plane's own path rules.
 *
 * @example
 * ```ts
 * safeReturnPath('/demo/ui?x=1', { deployment: 'demo', hostRouted: false });  // '/demo/ui?x=1'
 * safeReturnPath('//evil.example/', { deployment: 'demo', hostRouted: false }); // '/demo/'
 * safeReturnPath('/other/', { deployment: 'demo', hostRouted: false });         // '/demo/'
 * ```
 */
export function safeReturnPath(candidate: string | null | undefined, target: BrowserTarget): string {
  const root = target.hostRouted ? '/' : `/${target.deployment}/`;
  if (candidate === null || candidate === undefined || candidate.length === 0) return root;
  if (target.hostRouted) {
    return !candidate.startsWith(BROWSER_PREFIX) && splitHostRoutedPath(candidate).ok ? candidate : root;
  }
  const split = splitInferencePath(candidate);
  return split.ok && split.deployment === target.deployment ? candidate : root;
}

/** A refusal as the sign-in page explains it. */
export interface ExplainedRefusal {
  readonly code: ErrorCode;
  readonly message?: string | undefined;
  /** The refusal's headers: for `THROTTLED`, `Retry-After` says when a retry may succeed. */
  readonly headers?: Readonly<Record<string, string | string[]>> | undefined;
}

/**
 * The error line of the sign-in page for a refusal; none when there simply was no credential.
 * Public text only (registry messages and denial details never hold the token).
 *
 * @example
 * ```ts
 * pageError({ code: 'CREDENTIAL_REVOKED' }, true);
 * // 'The saved token was refused: The credential has been revoked (CREDENTIAL_REVOKED). Enter a token to continue.'
 * ```
 */
export function pageError(refusal: ExplainedRefusal, savedToken: boolean): string | undefined {
  const { code } = refusal;
  if (code === 'CREDENTIAL_MISSING') return undefined;
  const which = savedToken ? 'The saved token' : 'That token';
  if (code === 'THROTTLED' || code === 'RATE_LIMITED') {
    const header = refusal.headers?.['retry-after'];
    const seconds = Number(Array.isArray(header) ? header[0] : header);
    const wait = seconds > 0 ? `in ${seconds} seconds` : 'later';
    // A token over its rate limit is a good one: say so, rather than ask for another.
    if (code === 'RATE_LIMITED') return `${which} is over its rate limit; try again ${wait}.`;
    return `Too many failed attempts from this address; try again ${wait}.`;
  }
  if (code === 'FORBIDDEN') {
    // The gateway's reason (an API token without endpoint access, or not listing this deployment)
    // tells the person which token to make instead.
    const why = refusal.message ? `: ${withoutFinalStop(refusal.message)}` : '';
    return `${which} is valid but does not open this deployment${why} (FORBIDDEN).`;
  }
  const message = refusal.message ?? ERROR_CODES[code].message;
  return `${which} was refused: ${message} (${code}).${savedToken ? ' Enter a token to continue.' : ''}`;
}

function withoutFinalStop(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}
