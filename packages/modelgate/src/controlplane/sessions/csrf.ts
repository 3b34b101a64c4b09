/** The header a script may send instead of a same-origin `Origin` on cookie-authenticated writes. */
export const CSRF_HEADER = 'x-modelgate-csrf';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Whether a request authenticated by the session cookie alone may proceed. Reads always may. A
 * write needs an `Origin` equal to this listener's own origin, or a non-empty
 * `X-Modelgate-CSRF` header: a cross-site form cannot set a custom header, and a cross-site
 * script cannot without a CORS preflight that this API never grants.
 *
 * @example
 * ```ts
 * csrfAllowed({ method: 'POST', origin: 'https://evil.example', ownOrigin: 'https://gw:8081' }); // false
 * ```
 */
export function csrfAllowed(req: {
  readonly method: string;
  readonly origin?: string | undefined;
  readonly ownOrigin: string;
  readonly csrfHeader?: string | undefined;
}): boolean {
  if (SAFE.has(req.method.toUpperCase())) return true;
  if (req.csrfHeader !== undefined && req.csrfHeader.trim() !== '') return true;
  return req.origin !== undefined && req.origin.toLowerCase() === req.ownOrigin.toLowerCase();
}
