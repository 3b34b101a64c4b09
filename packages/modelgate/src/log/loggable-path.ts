import { scrubCredentials } from '../auth/credential.js';

/** Longest path written to an access line, in characters (the line stays under 4 KiB). */
export const MAX_LOGGED_PATH = 512;

const REDACTED = '[redacted]';
/** A JWT (three base64url parts, the first a JSON object), wherever it appears. */
const JWT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

/**
 * The request target as the data plane's access line writes it: the path with anything shaped
 * like a modelgate credential or a JWT replaced by `[credential]`, every query VALUE replaced by
 * `[redacted]` (names kept; a bare `?word` is a value too), and at most {@link MAX_LOGGED_PATH}
 * characters (cut after redaction, so a cut can never leave part of a secret behind).
 *
 * On the data plane a query value is model input or an upstream's own credential, so none is
 * kept; the management API's lines keep the values whose names do not look secret (`redactUrl`).
 *
 * @example
 * ```ts
 * loggablePath('/demo/predict?token=abc&page=2'); // '/demo/predict?token=[redacted]&page=[redacted]'
 * loggablePath('/demo/keys/mgk_...');            // '/demo/keys/[credential]'
 * ```
 */
export function loggablePath(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  let out = scrubSecrets(q < 0 ? rawUrl : rawUrl.slice(0, q));
  if (q >= 0) out += `?${redactQueryValues(rawUrl.slice(q + 1))}`;
  return boundedForLog(out);
}

/** At most {@link MAX_LOGGED_PATH} characters, `...` marking a cut. Cut only text already redacted. */
export function boundedForLog(text: string): string {
  return text.length > MAX_LOGGED_PATH ? `${text.slice(0, MAX_LOGGED_PATH)}...` : text;
}

function redactQueryValues(query: string): string {
  if (query === '') return '';
  let out = '';
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const pair = query.slice(start, end);
    const eq = pair.indexOf('=');
    if (start > 0) out += '&';
    if (eq >= 0) out += `${scrubSecrets(pair.slice(0, eq))}=${eq === pair.length - 1 ? '' : REDACTED}`;
    else if (pair !== '') out += REDACTED;
    start = end + 1;
  }
  return out;
}

/** Credential- and JWT-shaped text replaced; the plain case (no `_`, no `eyJ`) costs two scans. */
function scrubSecrets(text: string): string {
  let out = text.includes('_') ? scrubCredentials(text) : text;
  if (out.includes('eyJ')) out = out.replace(JWT, '[credential]');
  return out;
}
