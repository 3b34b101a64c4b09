import { type Denial, deny } from '../kernel/denial.js';

/**
 * The one value of a credential cookie in a request's `Cookie` header (Node joins repeated
 * `Cookie` headers with `; `, so this sees them all): `undefined` when there is none or only
 * empty ones (a cleared cookie may linger), a denial (`ambiguous`) when two non-empty ones are
 * sent, even with the same value. A page on a sibling host can plant a second cookie for the
 * parent domain or a parent path, and browsers order them by path length, not by who set them:
 * taking the first would let the planter choose who the browser is. Both listeners read their
 * credential cookie through this (`modelgate_token` on the data plane, `modelgate_session` on
 * the management listener).
 *
 * @example
 * ```ts
 * readCredentialCookieValue('theme=dark; modelgate_session=mgu_a', 'modelgate_session'); // 'mgu_a'
 * readCredentialCookieValue('modelgate_session=mgu_a; modelgate_session=mgu_a', 'modelgate_session');
 * // { denied: 'ambiguous', detail: 'More than one modelgate_session cookie was sent' }
 * ```
 */
export function readCredentialCookieValue(header: string | undefined, name: string): string | Denial | undefined {
  if (header === undefined || !header.includes(name)) return undefined;
  let found: string | undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    if (value.length === 0) continue;
    if (found !== undefined) return deny('ambiguous', `More than one ${name} cookie was sent`);
    found = value;
  }
  return found;
}
