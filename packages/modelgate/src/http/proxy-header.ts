import { isIP, SocketAddress } from 'node:net';

/**
 * The PROXY protocol header a layer-4 load balancer (AWS NLB, HAProxy `send-proxy`, nginx
 * `proxy_protocol on` in a `stream` block) writes before the client's first byte, parsed per
 * HAProxy's specification (https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt).
 * Pure: bytes in, a decision out; the socket handling is in `proxy-protocol.ts`.
 */

/** The client the balancer reports (its source address and port). */
export interface ProxySource {
  readonly address: string;
  readonly port: number;
  readonly family: 'IPv4' | 'IPv6';
}

export type ProxyHeaderResult =
  /**
   * A complete header of `consumed` bytes (what follows belongs to the client). `source` is
   * undefined for a v1 `UNKNOWN` or a v2 `LOCAL` (the balancer's own health check): the
   * connection is then the balancer's own.
   */
  | { readonly kind: 'done'; readonly consumed: number; readonly source: ProxySource | undefined }
  /** A valid beginning; more bytes are needed. */
  | { readonly kind: 'needMore' }
  /** Started as a PROXY header but is not a valid one; `reason` is for the log, never echoes input. */
  | { readonly kind: 'invalid'; readonly reason: string }
  /** Does not start like a PROXY header at all (an HTTP request, a TLS ClientHello). */
  | { readonly kind: 'absent' };

/** The longest v1 line the specification allows, `\r\n` included. */
export const V1_MAX_LENGTH = 107;
/**
 * The largest v2 address-and-TLV block accepted. The specification allows 65 535; balancers send
 * the addresses plus a few TLVs (AWS's VPC endpoint id, HAProxy's ALPN, authority and TLS
 * details), far below this. A bound keeps what one pending connection may make the node hold small.
 */
export const V2_MAX_BODY = 4096;
/** Bytes needed before a header can be told from other input (the v2 signature's length). */
export const SIGNATURE_LENGTH = 12;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED = 16;
const CR = 0x0d;
const LF = 0x0a;

/**
 * Reads a PROXY protocol v1 (text) or v2 (binary) header off the start of `data`, the bytes
 * received on a connection so far. Strict: v1 only `TCP4`, `TCP6` and `UNKNOWN` with single
 * spaces, canonical addresses and ports 0-65535, at most 107 bytes; v2 only version 2, `LOCAL`
 * with any family and `PROXY` over TCP (`AF_INET`, `AF_INET6`), at most {@link V2_MAX_BODY}
 * bytes after the fixed part. TLVs are skipped by length, never interpreted.
 *
 * @example
 * ```ts
 * parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.9 10.0.0.5 51234 443\r\nGET / HTTP/1.1\r\n'));
 * // { kind: 'done', consumed: 44, source: { address: '203.0.113.9', port: 51234, family: 'IPv4' } }
 * parseProxyHeader(Buffer.from('PROXY TCP4 203.0.1')); // { kind: 'needMore' }
 * parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'));  // { kind: 'absent' }
 * ```
 */
export function parseProxyHeader(data: Buffer): ProxyHeaderResult {
  if (startsWith(data, V2_SIGNATURE)) {
    return data.length < SIGNATURE_LENGTH ? { kind: 'needMore' } : parseV2(data);
  }
  if (startsWith(data, V1_PREFIX)) {
    return data.length < V1_PREFIX.length ? { kind: 'needMore' } : parseV1(data);
  }
  return { kind: 'absent' };
}

/**
 * Whether `data` is, or may still become, a PROXY header: what an untrusted peer must never send.
 * `undefined` while too few bytes have arrived to tell.
 */
export function looksLikeProxyHeader(data: Buffer): boolean | undefined {
  const v2 = startsWith(data, V2_SIGNATURE);
  const v1 = startsWith(data, V1_PREFIX);
  if (!v1 && !v2) return false;
  if ((v1 && data.length >= V1_PREFIX.length) || (v2 && data.length >= SIGNATURE_LENGTH)) return true;
  return undefined;
}

/** Whether `data` and `prefix` agree on their common length (a short `data` may still match). */
function startsWith(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.length > 0 && data.compare(prefix, 0, n, 0, n) === 0;
}

function parseV1(data: Buffer): ProxyHeaderResult {
  // The CR must fall at index 105 at the latest, so the line with its LF fits in 107 bytes.
  const limit = Math.min(data.length, V1_MAX_LENGTH - 1);
  let end = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    const byte = data[i] as number;
    if (byte === CR) {
      if (i + 1 >= data.length) return { kind: 'needMore' };
      if (data[i + 1] !== LF) return { kind: 'invalid', reason: 'v1 line not ended by CRLF' };
      end = i;
      break;
    }
    // Printable ASCII only: a NUL or a byte above 0x7e is not a header, whatever follows.
    if (byte < 0x20 || byte > 0x7e) return { kind: 'invalid', reason: 'v1 line has a non-printable byte' };
  }
  if (end < 0) {
    return data.length >= V1_MAX_LENGTH - 1 ? { kind: 'invalid', reason: 'v1 line too long' } : { kind: 'needMore' };
  }
  const consumed = end + 2;
  const fields = data.toString('latin1', V1_PREFIX.length, end).split(' ');
  const protocol = fields[0];
  // UNKNOWN: the balancer could not tell the source; the rest of the line is to be ignored.
  if (protocol === 'UNKNOWN') return { kind: 'done', consumed, source: undefined };
  if (protocol !== 'TCP4' && protocol !== 'TCP6')
    return { kind: 'invalid', reason: 'v1 protocol not TCP4, TCP6 or UNKNOWN' };
  if (fields.length !== 5) return { kind: 'invalid', reason: 'v1 line does not have 5 fields' };
  const [, src = '', dst = '', srcPort = '', dstPort = ''] = fields;
  const version = protocol === 'TCP4' ? 4 : 6;
  // No zone index (`fe80::1%eth0`): it names an interface of the balancer, not a client.
  if (isIP(src) !== version || isIP(dst) !== version || src.includes('%') || dst.includes('%')) {
    return { kind: 'invalid', reason: `v1 address not an IPv${version} address` };
  }
  const port = v1Port(srcPort);
  if (port === undefined || v1Port(dstPort) === undefined) return { kind: 'invalid', reason: 'v1 port not 0-65535' };
  return { kind: 'done', consumed, source: sourceOf(src, port, version) };
}

/** A v1 port: decimal, no leading zero, 0-65535. */
function v1Port(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

const AF_UNSPEC = 0x0;
const AF_INET = 0x1;
const AF_INET6 = 0x2;
const TRANSPORT_STREAM = 0x1;
const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;

function parseV2(data: Buffer): ProxyHeaderResult {
  if (data.length < V2_FIXED) return { kind: 'needMore' };
  const versionCommand = data[12] as number;
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'v2 version not 2' };
  const command = versionCommand & 0x0f;
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return { kind: 'invalid', reason: 'v2 command unknown' };
  const familyTransport = data[13] as number;
  const length = data.readUInt16BE(14);
  if (length > V2_MAX_BODY) return { kind: 'invalid', reason: 'v2 length too large' };
  const consumed = V2_FIXED + length;
  // Decide on the fixed part at once: a bad family is refused before its body arrives.
  if (command === COMMAND_LOCAL) {
    return data.length < consumed ? { kind: 'needMore' } : { kind: 'done', consumed, source: undefined };
  }
  const family = familyTransport >> 4;
  if ((familyTransport & 0x0f) !== TRANSPORT_STREAM || (family !== AF_INET && family !== AF_INET6)) {
    return {
      kind: 'invalid',
      reason: family === AF_UNSPEC ? 'v2 PROXY with an unspecified family' : 'v2 family not TCP over IPv4 or IPv6',
    };
  }
  const addressBytes = family === AF_INET ? 12 : 36;
  if (length < addressBytes) return { kind: 'invalid', reason: 'v2 length shorter than its addresses' };
  if (data.length < consumed) return { kind: 'needMore' };
  if (family === AF_INET) {
    const address = `${data[16]}.${data[17]}.${data[18]}.${data[19]}`;
    return { kind: 'done', consumed, source: sourceOf(address, data.readUInt16BE(24), 4) };
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(data.readUInt16BE(16 + i * 2).toString(16));
  return { kind: 'done', consumed, source: sourceOf(groups.join(':'), data.readUInt16BE(48), 6) };
}

/** The source in the spelling node gives a socket's peer (`2001:db8::9`), so keys agree. */
function sourceOf(address: string, port: number, version: 4 | 6): ProxySource {
  if (version === 4) return { address, port, family: 'IPv4' };
  return { address: new SocketAddress({ address, family: 'ipv6' }).address, port, family: 'IPv6' };
}
