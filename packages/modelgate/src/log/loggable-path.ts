import { scrubUrl } from './url-scrubber.js';

/** Longest path written to an access line, in characters (the line stays under 4 KiB). */
export const MAX_LOGGED_PATH = 512;

/**
 * The request target as the data plane's access line writes it: the path with anything shaped
 * like a modelgate credential or a JWT replaced by `[credential]` ({@link scrubUrl}, shared with
 * the management log), every query VALUE replaced by
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
  return boundedForLog(scrubUrl(rawUrl, 'none'));
}

/** At most {@link MAX_LOGGED_PATH} characters, `...` marking a cut. Cut only text already redacted. */
export function boundedForLog(text: string): string {
  return text.length > MAX_LOGGED_PATH ? `${text.slice(0, MAX_LOGGED_PATH)}...` : text;
}
