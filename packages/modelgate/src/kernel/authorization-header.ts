import type { IncomingHttpHeaders } from 'node:http';
import { type Denial, deny } from './denial.js';
import { countHeader } from './raw-headers.js';

/** The credential carried by an `Authorization` header, split per RFC 7235. */
export type AuthorizationCredentials =
  | { readonly scheme: 'bearer'; readonly token: string }
  | { readonly scheme: 'basic'; readonly username: string; readonly password: string };

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_HEADER = 8192;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Whether `value` can be a bearer token (RFC 6750 `b64token`, at most 8 KB): what a token must
 * look like wherever it arrives (a header, the browser-access cookie, its sign-in form).
 */
export function isBearerToken(value: string): boolean {
  return value.length <= MAX_HEADER && TOKEN68.test(value);
}

/**
 * Reads the single `Authorization` header of a request. Two headers are refused: node keeps only
 * the first in `req.headers`, and a proxy in front might have kept the other.
 *
 * @returns `undefined` when there is no header, the parsed credentials, or a denial.
 */
export function readAuthorization(req: {
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}): AuthorizationCredentials | Denial | undefined {
  const count = authorizationHeaderCount(req.rawHeaders);
  if (count === 0) return undefined;
  if (count > 1) return deny('ambiguous', 'More than one Authorization header was sent');
  return parseAuthorization(req.headers.authorization ?? '');
}

/** How many `Authorization` fields a request carried (see `countHeader`). */
export function authorizationHeaderCount(rawHeaders: readonly string[]): number {
  return countHeader(rawHeaders, 'authorization');
}

/**
 * Parses one `Authorization` value: `Bearer <token68>` or `Basic <base64(user:pass)>`.
 * Scheme names are case-insensitive; anything else is malformed.
 *
 * @example
 * ```ts
 * parseAuthorization('Bearer mgk_abc'); // { scheme: 'bearer', token: 'mgk_abc' }
 * ```
 */
export function parseAuthorization(value: string): AuthorizationCredentials | Denial {
  if (value.length > MAX_HEADER) return deny('malformed', 'The Authorization header is too long');
  const match = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +(\S+) *$/.exec(value);
  if (!match) return deny('malformed', 'The Authorization header must be "<scheme> <credentials>"');
  const scheme = match[1]!.toLowerCase();
  const rest = match[2]!;
  if (scheme === 'bearer') {
    if (!TOKEN68.test(rest)) return deny('malformed', 'The bearer token has characters a token cannot have');
    return { scheme: 'bearer', token: rest };
  }
  if (scheme === 'basic') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(rest) || rest.length % 4 !== 0) {
      return deny('malformed', 'Basic credentials must be base64');
    }
    // Fatal decoding: a lossy one maps different invalid bytes to the same U+FFFD password.
    let decoded: string;
    try {
      decoded = UTF8.decode(Buffer.from(rest, 'base64'));
    } catch {
      return deny('malformed', 'Basic credentials must be UTF-8');
    }
    const colon = decoded.indexOf(':');
    if (colon < 0) return deny('malformed', 'Basic credentials must be "username:password"');
    return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return deny('malformed', `Unsupported authorization scheme`);
}
