import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { RequestHead } from '../../http/request-head.js';
import { countHeader } from '../../kernel/raw-headers.js';
import type { Refusal } from '../admission-result.js';

/**
 * The forward-auth decision endpoints (F1) on the inference listener: a proxy in front (nginx
 * `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`, Envoy `ext_authz` in HTTP mode)
 * asks whether a request it holds may pass, and modelgate answers through the same admission
 * pipeline as its own proxy. Each proxy describes the original request in headers of its own;
 * this module reads them into a `RequestHead`, the one thing admission reads.
 */

/** The prefix of the decision endpoints: `/_modelgate/auth/<proxy>` (Envoy appends the original path). */
export const FORWARD_AUTH_PREFIX = '/_modelgate/auth/';

/** The proxies whose contract modelgate speaks. */
export const FORWARD_AUTH_CONTRACTS = ['nginx', 'caddy', 'traefik', 'envoy'] as const;
export type ForwardAuthContract = (typeof FORWARD_AUTH_CONTRACTS)[number];

/** A decision request: which contract, and for Envoy the original path it appended. */
export interface DecisionTarget {
  readonly contract: ForwardAuthContract;
  /** Envoy only: the original request target, after the endpoint's prefix. */
  readonly appended?: string;
}

/**
 * Which decision endpoint a request target names, or undefined for none.
 *
 * @example
 * ```ts
 * decisionTarget('/_modelgate/auth/nginx'); // { contract: 'nginx' }
 * decisionTarget('/_modelgate/auth/envoy/churn/predict?x=1'); // { contract: 'envoy', appended: '/churn/predict?x=1' }
 * ```
 */
export function decisionTarget(url: string): DecisionTarget | undefined {
  if (!url.startsWith(FORWARD_AUTH_PREFIX)) return undefined;
  const rest = url.slice(FORWARD_AUTH_PREFIX.length);
  if (rest.startsWith('envoy/')) return { contract: 'envoy', appended: rest.slice('envoy'.length) };
  const name = rest.split('?')[0];
  return name === 'nginx' || name === 'caddy' || name === 'traefik' ? { contract: name } : undefined;
}

/** How a proxy names the original request's parts, in headers of the decision request. */
interface Description {
  readonly method: string;
  readonly uri: string;
  readonly host: string;
  readonly length: string;
  readonly encoding: string;
}

/** Caddy's and Traefik's `X-Forwarded-*`, with the framing headers the generated config adds. */
const FORWARDED: Description = {
  method: 'x-forwarded-method',
  uri: 'x-forwarded-uri',
  host: 'x-forwarded-host',
  length: 'x-original-content-length',
  encoding: 'x-original-transfer-encoding',
};

/** The headers each proxy describes the original request with (Envoy sends the request itself). */
const DESCRIPTIONS: Record<Exclude<ForwardAuthContract, 'envoy'>, Description> = {
  nginx: {
    method: 'x-original-method',
    uri: 'x-original-uri',
    host: 'x-original-host',
    length: 'x-original-content-length',
    encoding: 'x-original-transfer-encoding',
  },
  caddy: FORWARDED,
  traefik: FORWARDED,
};

/** Headers of a decision request that describe the request rather than belong to it. */
const DESCRIBING = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-method',
  'x-forwarded-uri',
  'x-forwarded-host',
  'x-original-method',
  'x-original-uri',
  'x-original-host',
  'x-original-content-length',
  'x-original-transfer-encoding',
  'x-real-ip',
  'connection',
  'keep-alive',
]);

/**
 * The original request a proxy asks about, as admission reads it: its method, target, `Host`,
 * framing headers and every other header it carried (the credential among them), coming from
 * `client` (the address `trusted_proxies` resolves from the proxy's `X-Forwarded-For`). A
 * describing header that is missing or sent twice is refused: the decision would be about a
 * request nobody can name.
 *
 * @example
 * ```ts
 * const head = describeOriginal(req, { contract: 'nginx' }, '203.0.113.7');
 * admission.admit(head);
 * ```
 */
export function describeOriginal(req: IncomingMessage, target: DecisionTarget, client: string): RequestHead | Refusal {
  const names = target.contract === 'envoy' ? undefined : DESCRIPTIONS[target.contract];
  const raw = req.rawHeaders;
  if (names !== undefined) {
    for (const name of [names.method, names.uri, names.host, names.length, names.encoding]) {
      if (countHeader(raw, name) > 1) {
        return { code: 'HEADER_DUPLICATED', message: `The decision request carries ${name} more than once` };
      }
    }
  }
  const method = names === undefined ? req.method : single(req.headers[names.method]);
  const url = names === undefined ? target.appended : single(req.headers[names.uri]);
  if (!method || url === undefined || !url.startsWith('/')) {
    return {
      code: 'FORWARD_AUTH_HEADERS_MISSING',
      message:
        names === undefined
          ? 'The decision request names no original path'
          : `The decision request must carry ${names.method} and ${names.uri} (an origin-form URI)`,
    };
  }
  const host =
    names === undefined
      ? (single(req.headers['x-forwarded-host']) ?? req.headers.host)
      : (single(req.headers[names.host]) ?? req.headers.host);
  const length = names === undefined ? req.headers['content-length'] : single(req.headers[names.length]);
  const encoding = names === undefined ? req.headers['transfer-encoding'] : single(req.headers[names.encoding]);

  const headers: IncomingHttpHeaders = {};
  const rawHeaders: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (DESCRIBING.has(name.toLowerCase())) continue;
    rawHeaders.push(name, raw[i + 1] ?? '');
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (!DESCRIBING.has(name)) headers[name] = value;
  }
  if (host) {
    headers.host = host;
    rawHeaders.push('Host', host);
  }
  // The original's framing, as the proxy saw it: a body on a GET is refused here as by the gateway.
  if (length) {
    headers['content-length'] = length;
    rawHeaders.push('Content-Length', length);
  }
  if (encoding) {
    headers['transfer-encoding'] = encoding;
    rawHeaders.push('Transfer-Encoding', encoding);
  }
  return { method, url, headers, rawHeaders, socket: { remoteAddress: client } };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value === '' ? undefined : value;
}
