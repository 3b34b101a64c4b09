/**
 * Routing of the inference listener's request target, pure and strict.
 *
 * The upstream receives exactly the raw remainder that was authorized: nothing here decodes or
 * normalizes a path that is passed on. Instead, anything a server behind the gateway could
 * normalize into a different path (dot segments, encoded or doubled slashes, backslashes,
 * control characters, overlong UTF-8, double encoding, `..;` path parameters, Unicode look-alikes
 * whose NFKC form is a dot segment or holds a separator) is refused.
 *
 * The query string is opaque to routing: it never selects a deployment and is passed on
 * verbatim, so `..` or `%2f` inside it are allowed. It must still be printable ASCII without `#`.
 */

/** Deployment names: lowercase letters, digits and `-`, starting with a letter or digit. */
export const DEPLOYMENT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Longest path (the part before `?`) accepted, in characters. */
export const MAX_PATH_LENGTH = 8192;

/** How many layers of percent-encoding are inspected for a hidden `.`, `/` or `\`. */
const DECODE_DEPTH = 3;

export type PathRefusal = 'PATH_INVALID' | 'DEPLOYMENT_NOT_FOUND';

export type InferencePathResult = { ok: true; deployment: string; rest: string } | { ok: false; code: PathRefusal };

export type HostRoutedPathResult = { ok: true; rest: string } | { ok: false; code: 'PATH_INVALID' };

/** True when `name` is a syntactically valid deployment name (exact, case-sensitive). */
export function isDeploymentName(name: string): boolean {
  return DEPLOYMENT_NAME.test(name);
}

/**
 * Splits a path-routed request target `/<deployment>/<path...>` into the deployment name and the
 * raw remainder the upstream must receive (starting with `/`, query string kept).
 *
 * @example
 * ```ts
 * splitInferencePath('/demo/v1/chat?x=1');
 * // → { ok: true, deployment: 'demo', rest: '/v1/chat?x=1' }
 * splitInferencePath('/demo/../other/x'); // → { ok: false, code: 'PATH_INVALID' }
 * splitInferencePath('/Demo/x');          // → { ok: false, code: 'DEPLOYMENT_NOT_FOUND' }
 * ```
 */
export function splitInferencePath(rawUrl: string): InferencePathResult {
  const checked = checkTarget(rawUrl);
  if (!checked.ok) return checked;
  const { path, query } = checked;
  const end = path.indexOf('/', 1);
  const deployment = end < 0 ? path.slice(1) : path.slice(1, end);
  if (!isDeploymentName(deployment)) return { ok: false, code: 'DEPLOYMENT_NOT_FOUND' };
  const restPath = end < 0 ? '/' : path.slice(end);
  return { ok: true, deployment, rest: restPath + query };
}

/**
 * Checks a host-routed request target (`<deployment>.<base_domain>`): the whole target is the
 * remainder, with the same safety rules as {@link splitInferencePath}.
 *
 * @example
 * ```ts
 * splitHostRoutedPath('/v1/models?x=1'); // → { ok: true, rest: '/v1/models?x=1' }
 * splitHostRoutedPath('/a/%2e%2e/b');    // → { ok: false, code: 'PATH_INVALID' }
 * ```
 */
export function splitHostRoutedPath(rawUrl: string): HostRoutedPathResult {
  const checked = checkTarget(rawUrl);
  if (!checked.ok) return checked;
  return { ok: true, rest: checked.path + checked.query };
}

/**
 * The deployment named by a `Host` of `<deployment>.<base_domain>`, or `undefined` when the host is
 * not exactly one valid label under the base domain. Host names compare case-insensitively (DNS);
 * the port and one trailing dot are ignored.
 *
 * @example
 * ```ts
 * hostDeployment('Demo.Models.example.com:8080', 'models.example.com'); // → 'demo'
 * hostDeployment('a.b.models.example.com', 'models.example.com');       // → undefined
 * ```
 */
export function hostDeployment(hostHeader: string | undefined, baseDomain: string): string | undefined {
  if (hostHeader === undefined || hostHeader.length === 0 || hostHeader.length > 255) return undefined;
  const base = normalizeDomain(baseDomain);
  if (base.length === 0) return undefined;
  let host = hostHeader.toLowerCase();
  if (host.startsWith('[')) return undefined; // an IPv6 literal is never a deployment host
  const colon = host.indexOf(':');
  if (colon >= 0) {
    if (!/^:[0-9]{1,5}$/.test(host.slice(colon))) return undefined;
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  const suffix = `.${base}`;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  return isDeploymentName(label) ? label : undefined;
}

function normalizeDomain(domain: string): string {
  let d = domain.trim().toLowerCase();
  if (d.startsWith('.')) d = d.slice(1);
  if (d.endsWith('.')) d = d.slice(0, -1);
  return d;
}

type CheckedTarget = { ok: true; path: string; query: string } | { ok: false; code: 'PATH_INVALID' };

const INVALID: { ok: false; code: 'PATH_INVALID' } = Object.freeze({ ok: false, code: 'PATH_INVALID' }) as {
  ok: false;
  code: 'PATH_INVALID';
};

function checkTarget(rawUrl: string): CheckedTarget {
  // Origin-form only: absolute-form (`http://x/a`), authority-form (`x:443`) and `*` are refused.
  if (rawUrl.length === 0 || rawUrl.charCodeAt(0) !== 0x2f /* / */) return INVALID;
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q);
  if (path.length > MAX_PATH_LENGTH) return INVALID;
  if (!isOpaqueQuery(query)) return INVALID;
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    // Only a trailing slash may leave an empty segment (`/`, `/a/`); `//b` and `/a//x` may not.
    if (segment.length === 0) {
      if (i === segments.length - 1) continue;
      return INVALID;
    }
    if (!isSafeSegment(segment)) return INVALID;
  }
  return { ok: true, path, query };
}

/** Printable ASCII except `#`: the query is passed on verbatim and never routes. */
function isOpaqueQuery(query: string): boolean {
  for (let i = 1; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) return false;
  }
  return true;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A raw path segment is safe when it is printable ASCII without `\` or `#`, its percent-encoding
 * is well formed and decodes to valid UTF-8 without control characters, `/` or `\`, and neither
 * it nor a deeper decoding (double encoding, up to {@link DECODE_DEPTH} layers) is a dot segment,
 * also in the `..;param` form.
 */
function isSafeSegment(raw: string): boolean {
  let hasPercent = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x5c /* \ */ || c === 0x23 /* # */) return false;
    if (c === 0x25 /* % */) {
      if (!isHex(raw.charCodeAt(i + 1)) || !isHex(raw.charCodeAt(i + 2))) return false;
      hasPercent = true;
      i += 2;
    }
  }
  if (isDotSegment(raw)) return false;
  if (!hasPercent) return true;

  // First layer: what an ordinary server sees. Must be UTF-8 (refuses overlong `%c0%ae`).
  let decoded: string;
  try {
    decoded = utf8.decode(Buffer.from(raw.replace(PERCENT_BYTE, hexByteToLatin1), 'latin1'));
  } catch {
    return false;
  }
  if (!isSafeDecoded(decoded)) return false;

  // Deeper layers: what a server that decodes twice would see. Bytes only, no UTF-8 required.
  let layer = decoded;
  for (let depth = 1; depth < DECODE_DEPTH && PERCENT_BYTE_ONE.test(layer); depth++) {
    layer = layer.replace(PERCENT_BYTE, hexByteToLatin1);
    for (let i = 0; i < layer.length; i++) {
      const c = layer.charCodeAt(i);
      if (c < 0x20 || c === 0x7f || c === 0x2f /* / */ || c === 0x5c /* \ */) return false;
    }
    if (isDotSegment(layer)) return false;
    if (!isSafeCompatibilityForm(Buffer.from(layer, 'latin1').toString('utf8'))) return false;
  }
  return true;
}

/**
 * A decoded segment is safe when it has no control character, `/` or `\`, is not a dot segment,
 * and its NFKC form is safe too ({@link isSafeCompatibilityForm}).
 */
function isSafeDecoded(decoded: string): boolean {
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2f /* / */ || c === 0x5c /* \ */) return false;
  }
  return !isDotSegment(decoded) && isSafeCompatibilityForm(decoded);
}

/**
 * What a server that NFKC-normalizes paths would see: `．．` (fullwidth), `‥` (two-dot leader)
 * become `..`, `／` and `℀` bring a `/`, `＼` a `\`, `％２ｅ` a percent-encoded dot. The
 * normalized form must pass the same rules as the decoded segment, including one more
 * percent-decoding when normalization produced a `%`. ASCII is its own NFKC form.
 */
function isSafeCompatibilityForm(text: string): boolean {
  if (ASCII.test(text)) return true;
  const normal = text.normalize('NFKC');
  if (normal === text) return true;
  if (normal.includes('%') && !isSafeDecoded(normal.replace(PERCENT_BYTE, hexByteToLatin1))) return false;
  return isSafeDecoded(normal);
}

const ASCII = /^\p{ASCII}*$/u;

const PERCENT_BYTE = /%([0-9A-Fa-f]{2})/g;
const PERCENT_BYTE_ONE = /%[0-9A-Fa-f]{2}/;

function hexByteToLatin1(_match: string, hex: string): string {
  return String.fromCharCode(Number.parseInt(hex, 16));
}

/** `.` or `..`, also as `..;param` (servlet containers drop path parameters before resolving). */
function isDotSegment(segment: string): boolean {
  const semi = segment.indexOf(';');
  const name = semi < 0 ? segment : segment.slice(0, semi);
  return name === '.' || name === '..';
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
