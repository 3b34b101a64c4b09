import { scrubCredentials } from '../kernel/credential.js';

/**
 * The one scrubber for request URLs in every log line, on every listener (issue 17, defect 8):
 * the data plane's access line (`loggablePath`) and the management request log (`redactUrl`)
 * differ only in which query values they keep. Whatever they keep has anything shaped like a
 * modelgate credential (`mg*_...`) or a JWT replaced by `[credential]`, in the text as sent and
 * once its percent-escapes are decoded (a pasted token is often URL-encoded, sometimes twice).
 */

const REDACTED = '[redacted]';
const CREDENTIAL = '[credential]';
/** A JWT (three base64url parts, the first a JSON object), wherever it appears. */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;
/** Query names whose values the management log never keeps, whatever they look like. */
const SECRET_QUERY_NAME = /token|key|secret|password|passwd|auth|signature|sig|code/i;
/** A percent-escape of an ASCII byte: every character of a credential or a JWT is one. */
const ASCII_ESCAPE = /%([0-7][0-9a-fA-F])/g;
/** How many layers of percent-encoding are looked through. */
const DECODE_ROUNDS = 3;

/** What a log keeps of the query: no value (data plane), or the values of names that do not look secret. */
export type QueryValues = 'none' | 'unless-secret-name';

/**
 * A URL as a log line may show it.
 *
 * @example
 * ```ts
 * scrubUrl('/api/v1/x?cursor=eyJ..&limit=5', 'unless-secret-name'); // '/api/v1/x?cursor=[credential]&limit=5'
 * scrubUrl('/demo/predict?q=1', 'none');                             // '/demo/predict?q=[redacted]'
 * ```
 */
export function scrubUrl(rawUrl: string, keep: QueryValues): string {
  const q = rawUrl.indexOf('?');
  const path = scrubPart(q < 0 ? rawUrl : rawUrl.slice(0, q), '/');
  return q < 0 ? path : `${path}?${scrubQuery(rawUrl.slice(q + 1), keep)}`;
}

function scrubQuery(query: string, keep: QueryValues): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      // A bare `?word` is a value too.
      if (eq < 0) return pair === '' ? '' : keep === 'none' ? REDACTED : scrubPart(pair);
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const hide = keep === 'none' || SECRET_QUERY_NAME.test(decodeAscii(name));
      return `${scrubPart(name)}=${value === '' ? '' : hide ? REDACTED : scrubPart(value)}`;
    })
    .join('&');
}

/**
 * Credential- and JWT-shaped text replaced. A piece (a path segment, or the whole `part` when no
 * separator is given) that still hides one behind percent-escapes becomes `[credential]` whole.
 * The plain case (no `_`, no `eyJ`, no `%`) costs three scans.
 */
function scrubPart(part: string, separator?: string): string {
  const out = scrubSecrets(part);
  if (!out.includes('%')) return out;
  const pieces = separator === undefined ? [out] : out.split(separator);
  return pieces
    .map((piece) => {
      const decoded = decodeAscii(piece);
      return decoded !== piece && scrubSecrets(decoded) !== decoded ? CREDENTIAL : piece;
    })
    .join(separator ?? '');
}

function scrubSecrets(text: string): string {
  let out = text.includes('_') ? scrubCredentials(text) : text;
  if (out.includes('eyJ')) out = out.replace(JWT, CREDENTIAL);
  return out;
}

/** ASCII percent-escapes decoded, a few layers deep; never throws on a malformed escape. */
function decodeAscii(text: string): string {
  let out = text;
  for (let i = 0; i < DECODE_ROUNDS && out.includes('%'); i++) {
    const next = out.replace(ASCII_ESCAPE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (next === out) break;
    out = next;
  }
  return out;
}
