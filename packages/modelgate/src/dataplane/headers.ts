import type { IncomingHttpHeaders } from 'node:http';
import { setsGatewayCookie, withoutGatewayCookies } from './browser-cookie.js';

/**
 * Header rewriting between the caller, the gateway and the model server, pure.
 *
 * Request side: hop-by-hop headers go (RFC 9110 §7.6.1, including every header the caller names
 * in `Connection`), the caller's credential goes unless the deployment forwards it (the gateway's
 * credential cookies always go), every
 * client-sent `X-Modelgate-*` goes, `X-Forwarded-*` are set, and the gateway's own identity
 * headers are added last, so nothing a caller sends can remove or spoof them.
 */

/** Headers that describe one connection, never forwarded by a proxy. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Prefix of the gateway's identity headers; a caller can never send one upstream. */
export const GATEWAY_HEADER_PREFIX = 'x-modelgate-';

export const DEPLOYMENT_HEADER = 'x-modelgate-deployment';
export const PRINCIPAL_HEADER = 'x-modelgate-principal';
/** The deployment's and its infrastructure's ids, so an upstream can check a forwarded JWT's claim (S5). */
export const DEPLOYMENT_ID_HEADER = 'x-modelgate-deployment-id';
export const INFRASTRUCTURE_ID_HEADER = 'x-modelgate-infrastructure-id';

export interface UpstreamHeaderContext {
  /** The caller's address (the socket's remote address). */
  readonly clientIp: string;
  /** The scheme the caller used to reach the gateway. */
  readonly proto: 'http' | 'https';
  /** The caller's original `Host`. */
  readonly host: string;
  readonly deployment: string;
  readonly deploymentId?: string | undefined;
  readonly infrastructureId?: string | undefined;
  /** The authenticated principal's id; absent for public deployments and anonymous calls. */
  readonly principal?: string | undefined;
  readonly requestId: string;
  /** Pass the caller's `Authorization` on (a deployment option); stripped otherwise. */
  readonly forwardCredential: boolean;
  /** `host[:port]` of the upstream URL; becomes `Host`. */
  readonly upstreamHost: string;
  /** A WebSocket handshake: keep `Connection: Upgrade` and `Upgrade: websocket`. */
  readonly websocket?: boolean | undefined;
  /**
   * The token that authenticated the request from the browser-access cookie (there was no
   * `Authorization`): with `forwardCredential` it goes on as `Authorization: Bearer`, as it would
   * have had the caller sent it as a header.
   */
  readonly cookieToken?: string | undefined;
}

export type OutgoingHeaders = Record<string, string | string[]>;

/**
 * The headers the upstream receives, with lowercase names.
 *
 * `Expect` is dropped too: the gateway answers `100 Continue` itself once the request is admitted
 * and the upstream request starts pulling the body (see `continue.ts`). Header values are forwarded as node parsed them
 * (duplicates of singleton fields such as `Authorization` are reduced to the first by node; the
 * authentication layer refuses duplicated credentials before this runs).
 *
 * @example
 * ```ts
 * const headers = upstreamRequestHeaders(req.headers, {
 *   clientIp: req.socket.remoteAddress ?? '', proto: 'http', host: req.headers.host ?? '',
 *   deployment: 'demo', principal: 'apikey:k1', requestId: id, forwardCredential: false,
 *   upstreamHost: '127.0.0.1:9000',
 * });
 * ```
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>,
  ctx: UpstreamHeaderContext,
): OutgoingHeaders {
  const list = upstreamRequestHeaderList(incoming, ctx);
  const out: OutgoingHeaders = Object.create(null);
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1]!;
  return out;
}

/**
 * `upstreamRequestHeaders` as a flat `[name, value, ...]` list (a repeated field is one name with
 * a list of values), the form undici takes on the hot path: one pass over the caller's headers,
 * no header object built per request, and nothing allocated for what the request does not carry
 * (no `Connection` tokens, no prior `X-Forwarded-For`).
 *
 * @example
 * ```ts
 * agent.dispatch({ origin, path, method, headers: upstreamRequestHeaderList(req.headers, ctx) }, handler);
 * ```
 */
export function upstreamRequestHeaderList(
  incoming: IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>,
  ctx: UpstreamHeaderContext,
): HeaderList {
  const out: HeaderList = [];
  const named = connectionTokens(incoming);
  let priorFor: string[] | undefined;
  let priorForwarded: string[] | undefined;
  for (const key of Object.keys(incoming)) {
    const value = incoming[key];
    if (value === undefined) continue;
    const name = key.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(name) || named?.has(name) === true) continue;
    if (name.startsWith(GATEWAY_HEADER_PREFIX) || name.startsWith(':')) continue;
    switch (name) {
      case 'authorization':
        if (!ctx.forwardCredential) continue;
        break;
      case 'cookie': {
        const kept = withoutGatewayCookies(value);
        if (kept !== undefined) appendToList(out, name, kept);
        continue;
      }
      case 'host':
      case 'expect':
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
      case 'x-request-id':
        continue;
      case 'x-forwarded-for':
        priorFor = concat(priorFor, value);
        continue;
      case 'forwarded':
        priorForwarded = concat(priorForwarded, value);
        continue;
    }
    appendToList(out, name, value);
  }

  let hops = ctx.clientIp;
  if (priorFor !== undefined) {
    hops = '';
    for (const hop of priorFor) {
      const trimmed = hop.trim();
      if (trimmed.length > 0) hops = hops.length > 0 ? `${hops}, ${trimmed}` : trimmed;
    }
    if (ctx.clientIp.length > 0) hops = hops.length > 0 ? `${hops}, ${ctx.clientIp}` : ctx.clientIp;
  }
  if (hops.length > 0) out.push('x-forwarded-for', hops);
  out.push('x-forwarded-proto', ctx.proto);
  if (ctx.host.length > 0) out.push('x-forwarded-host', ctx.host);
  if (priorForwarded !== undefined) out.push('forwarded', [...priorForwarded, forwardedElement(ctx)].join(', '));
  if (ctx.forwardCredential && ctx.cookieToken !== undefined) out.push('authorization', `Bearer ${ctx.cookieToken}`);
  out.push('host', ctx.upstreamHost);
  if (ctx.websocket === true) out.push('connection', 'Upgrade', 'upgrade', 'websocket');
  out.push(DEPLOYMENT_HEADER, ctx.deployment);
  if (ctx.deploymentId) out.push(DEPLOYMENT_ID_HEADER, headerSafe(ctx.deploymentId));
  if (ctx.infrastructureId) out.push(INFRASTRUCTURE_ID_HEADER, headerSafe(ctx.infrastructureId));
  if (ctx.principal !== undefined && ctx.principal.length > 0) out.push(PRINCIPAL_HEADER, headerSafe(ctx.principal));
  out.push('x-request-id', ctx.requestId);
  return out;
}

function concat(prior: string[] | undefined, value: string | string[]): string[] {
  const values = Array.isArray(value) ? value : [value];
  return prior === undefined ? values : [...prior, ...values];
}

/**
 * The upstream response's headers as the caller receives them: hop-by-hop headers (and every
 * header the upstream names in `Connection`) removed, and any `Set-Cookie` of a gateway
 * credential cookie (an upstream may not sign browsers in), lowercase names.
 *
 * @example
 * ```ts
 * res.writeHead(status, downstreamResponseHeaders(upstream.headers));
 * ```
 */
export function downstreamResponseHeaders(
  upstreamHeaders: IncomingHttpHeaders | Readonly<Record<string, string | string[] | undefined>>,
): OutgoingHeaders {
  const raw: string[] = [];
  for (const key of Object.keys(upstreamHeaders)) {
    const value = upstreamHeaders[key];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) raw.push(key, one);
  }
  const list = downstreamResponseHeaderList(raw);
  const out: OutgoingHeaders = Object.create(null);
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1]!;
  return out;
}

/**
 * `downstreamResponseHeaders` from undici's raw `[name, value, ...]` list, as a flat
 * `[name, value, ...]` list that `res.writeHead` takes as is (no header object is built per
 * response). Names and values are read as latin1, so the caller gets the upstream's bytes
 * unchanged; names are lowercased; repeated fields (`Set-Cookie`) stay separate.
 *
 * @example
 * ```ts
 * downstreamResponseHeaderList(['Content-Type', 'text/plain', 'Connection', 'keep-alive']);
 * // → ['content-type', 'text/plain']
 * ```
 */
export function downstreamResponseHeaderList(raw: readonly (Buffer | string)[]): HeaderList {
  const out: HeaderList = [];
  let named: Set<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]!).toLowerCase();
    const value = latin1(raw[i + 1]!);
    if (name === 'connection') {
      named ??= new Set();
      addTokens(named, value);
    }
    if (HOP_BY_HOP_HEADERS.has(name) || name.startsWith(':')) continue;
    if (name === 'set-cookie' && setsGatewayCookie(value)) continue;
    appendToList(out, name, value);
  }
  if (named === undefined) return out;
  // Rare: `Connection` usually names only hop-by-hop headers (keep-alive), already dropped.
  const listed = named;
  let extra = false;
  for (const token of listed) if (!HOP_BY_HOP_HEADERS.has(token)) extra = true;
  if (!extra) return out;
  const kept: HeaderList = [];
  for (let i = 0; i < out.length; i += 2) if (!listed.has(out[i] as string)) kept.push(out[i]!, out[i + 1]!);
  return kept;
}

/**
 * A flat `[name, value, ...]` header list for `res.writeHead`. A repeated field is one name with
 * an array of values: node turns an array into one line per value, and writeHead's slower path
 * (when a header was set before) keeps only the last of two equal names.
 */
export type HeaderList = (string | string[])[];

/**
 * Sets a field on a header list, replacing whatever value(s) it had (the gateway's own
 * `X-Request-Id` wins over the upstream's).
 */
export function setListHeader(list: HeaderList, name: string, value: string): void {
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === name) {
      list[i + 1] = value;
      return;
    }
  }
  list.push(name, value);
}

/** Appends a field, folding a repeat into the first occurrence's value list (few fields: a scan). */
function appendToList(out: HeaderList, name: string, value: string | string[]): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] !== name) continue;
    out[i + 1] = [...asList(out[i + 1]!), ...asList(value)];
    return;
  }
  out.push(name, Array.isArray(value) ? [...value] : value);
}

function asList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}

function latin1(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/** Lowercased header names listed in every `Connection` header (any case of the field name). */
function connectionTokens(headers: Readonly<Record<string, string | string[] | undefined>>): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (const key of Object.keys(headers)) {
    if (key.length !== 10 || key.toLowerCase() !== 'connection') continue;
    const value = headers[key];
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    tokens ??= new Set<string>();
    for (const v of values) addTokens(tokens, v);
  }
  return tokens;
}

function addTokens(tokens: Set<string>, value: string): void {
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t.length > 0) tokens.add(t);
  }
}

/** An RFC 7239 `Forwarded` element for this hop, appended only when the caller sent one. */
function forwardedElement(ctx: UpstreamHeaderContext): string {
  const node = ctx.clientIp.includes(':') ? `"[${ctx.clientIp}]"` : ctx.clientIp;
  const parts = [`for=${node.length > 0 ? node : 'unknown'}`, `proto=${ctx.proto}`];
  if (ctx.host.length > 0) parts.push(`host=${quote(ctx.host)}`);
  return parts.join(';');
}

function quote(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** Principal ids are ASCII by construction; anything else is percent-encoded, never rejected. */
function headerSafe(value: string): string {
  return /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/.test(value) ? value : encodeURIComponent(value);
}
