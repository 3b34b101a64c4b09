import { SESSION_COOKIE } from '../http/cookie.js';
import { readCredentialCookieValue } from '../http/cookie-header.js';
import { isBearerToken } from '../kernel/authorization-header.js';
import { type Denial, deny, isDenial } from '../kernel/denial.js';

/**
 * The browser-access cookie (B7): it carries the bearer token a person entered on a protected
 * deployment's sign-in page, and the gateway verifies it exactly as it verifies an
 * `Authorization: Bearer` header. Pure helpers: reading it, writing and clearing it, and keeping
 * it (and the console's session cookie) away from upstreams in both directions.
 */

/** Name of the cookie that carries a browser's deployment credential. */
export const CREDENTIAL_COOKIE = 'modelgate_token';

/**
 * Cookies that hold a modelgate credential. Browsers scope cookies by host, not port, so the
 * console's session cookie reaches the inference listener too when both share a host name.
 */
const GATEWAY_COOKIES: ReadonlySet<string> = new Set([CREDENTIAL_COOKIE, SESSION_COOKIE]);
/** Every gateway cookie name starts with this; most `Cookie` headers are dismissed by one search. */
const GATEWAY_COOKIE_PREFIX = 'modelgate_';

/** Where a deployment's cookie lives: `Path=/<deployment>` (path routing) or `/` on its own host. */
export interface CookieScope {
  readonly path: string;
  /** Adds `Secure`: the browser reached the gateway over TLS. */
  readonly secure: boolean;
}

/**
 * The token in the request's `modelgate_token` cookie: `undefined` when there is none (or it is
 * empty, as a cleared cookie may linger), a denial when it is sent twice (`ambiguous`: a page on
 * a sibling host can plant a second one for the parent domain) or is not a token (`malformed`).
 *
 * @example
 * ```ts
 * readCredentialCookie('theme=dark; modelgate_token=mgk_abc'); // 'mgk_abc'
 * readCredentialCookie('theme=dark');                          // undefined
 * ```
 */
export function readCredentialCookie(header: string | undefined): string | Denial | undefined {
  const found = readCredentialCookieValue(header, CREDENTIAL_COOKIE);
  if (found === undefined || isDenial(found)) return found;
  return isBearerToken(found) ? found : deny('malformed', `The ${CREDENTIAL_COOKIE} cookie does not hold a token`);
}

/**
 * `Set-Cookie` for a signed-in browser: HttpOnly (no script reads the token), SameSite=Strict (no
 * request another site starts carries it), scoped to one deployment, Secure over TLS. A session
 * cookie: no `Max-Age`, the token's own expiry still applies on every request.
 *
 * @example
 * ```ts
 * credentialCookie('mgk_abc', { path: '/demo', secure: true });
 * // 'modelgate_token=mgk_abc; Path=/demo; HttpOnly; SameSite=Strict; Secure'
 * ```
 */
export function credentialCookie(token: string, scope: CookieScope): string {
  return cookieLine(`${CREDENTIAL_COOKIE}=${token}`, scope);
}

/** `Set-Cookie` that removes the credential cookie of `scope` (sign-out, or a refused token). */
export function clearCredentialCookie(scope: CookieScope): string {
  return cookieLine(`${CREDENTIAL_COOKIE}=; Max-Age=0`, scope);
}

function cookieLine(pair: string, scope: CookieScope): string {
  return `${pair}; Path=${scope.path}; HttpOnly; SameSite=Strict${scope.secure ? '; Secure' : ''}`;
}

/**
 * A request's `Cookie` value(s) without the gateway's credential cookies, for the upstream:
 * `undefined` when nothing else is left. Other cookies pass unchanged, in order.
 *
 * @example
 * ```ts
 * withoutGatewayCookies('a=1; modelgate_token=mgk_abc; b=2'); // 'a=1; b=2'
 * ```
 */
export function withoutGatewayCookies(value: string | readonly string[]): string | undefined {
  const joined = typeof value === 'string' ? value : value.join('; ');
  if (!joined.includes(GATEWAY_COOKIE_PREFIX)) return joined;
  const kept = joined.split(';').filter((pair) => {
    const eq = pair.indexOf('=');
    const name = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    return name.length > 0 && !GATEWAY_COOKIES.has(name);
  });
  return kept.length === 0 ? undefined : kept.map((pair) => pair.trim()).join('; ');
}

/**
 * Whether an upstream's `Set-Cookie` would set or overwrite a gateway credential cookie. Such a
 * header is dropped: a deployment could otherwise sign its visitors (or another deployment's,
 * through `Path`) in with a token of its choosing.
 */
export function setsGatewayCookie(setCookie: string): boolean {
  if (!setCookie.includes(GATEWAY_COOKIE_PREFIX)) return false;
  const semi = setCookie.indexOf(';');
  // A nameless cookie (`=modelgate_token=x`) is sent back as `modelgate_token=x`: judge its value.
  const pair = (semi < 0 ? setCookie : setCookie.slice(0, semi)).trim().replace(/^=\s*/, '');
  const eq = pair.indexOf('=');
  return eq > 0 && GATEWAY_COOKIES.has(pair.slice(0, eq).trim());
}
