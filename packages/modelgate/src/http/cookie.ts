/** The console's session cookie. */
export const SESSION_COOKIE = 'modelgate_session';

/**
 * `Set-Cookie` for a session: HttpOnly (no script reads it), SameSite=Strict (no cross-site
 * request carries it), Path=/, Secure when the listener is TLS. An empty value with Max-Age=0
 * clears it.
 */
export function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  const parts = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}
