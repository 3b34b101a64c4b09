import { isIP } from 'node:net';
import { parseTrustedProxies, type TrustedProxies } from '../config/trusted-proxies.js';
import type { RequestHead } from './request-head.js';

/** The address everything keyed by client uses: throttles, access and management logs. */
export type ClientAddress = (req: Pick<RequestHead, 'headers' | 'socket'>) => string;

/**
 * Builds the one `clientAddress(req)` of a node. With no trusted proxies it is the TCP peer, with
 * no work and no allocation per request (the data plane's hot path). With trusted proxies, a
 * request whose peer is trusted takes its address from `X-Forwarded-For` ({@link forwardedClient}),
 * computed once per request. With `proxy_protocol`, the peer is already the client the PROXY
 * header named (`proxy-protocol.ts` sets the socket's `remoteAddress`), so `X-Forwarded-For` is
 * read only when that address is itself a trusted proxy.
 *
 * @example
 * ```ts
 * const clientAddress = createClientAddress('10.0.0.0/8'); // config.trusted_proxies
 * clientAddress(req); // '203.0.113.9' behind a load balancer at 10.0.0.2
 * ```
 */
export function createClientAddress(trustedProxies: string): ClientAddress {
  if (trustedProxies.trim() === '') return peerAddress;
  const trusted = validatedTrustedProxies(trustedProxies);
  const cache = new WeakMap<object, string>();
  return (req) => {
    let address = cache.get(req);
    if (address === undefined) {
      address = forwardedClient(peerAddress(req), req.headers['x-forwarded-for'], trusted);
      cache.set(req, address);
    }
    return address;
  };
}

/**
 * `trusted_proxies` parsed from a validated config: the config was checked at load, so a bad list
 * here is a bug, not input.
 *
 * @example
 * ```ts
 * validatedTrustedProxies('127.0.0.1/32').has('127.0.0.1'); // true
 * ```
 */
export function validatedTrustedProxies(text: string): TrustedProxies {
  const trusted = parseTrustedProxies(text);
  if ('problems' in trusted) throw new Error(trusted.problems.join('; '));
  return trusted;
}

function peerAddress(req: Pick<RequestHead, 'socket'>): string {
  return req.socket.remoteAddress ?? '';
}

/**
 * The client behind a chain of proxies: the peer itself unless it is trusted; then the right-most
 * `X-Forwarded-For` hop that is not a trusted proxy (each trusted proxy appended the address it
 * saw, so everything left of the first untrusted hop could have been written by the client).
 * A malformed hop stops the walk at the last address known to be real, so garbage can neither
 * crash the caller nor become a throttle key. Only the last 32 hops are looked at.
 */
export function forwardedClient(peer: string, header: string | string[] | undefined, trusted: TrustedProxies): string {
  if (header === undefined || !trusted.has(peer)) return peer;
  const text = Array.isArray(header) ? header.join(',') : header;
  let client = peer;
  // Walk from the right without splitting the whole header: a long list costs only what is read.
  let end = text.length;
  for (let hops = 0; hops < 32 && end >= 0; hops++) {
    const start = text.lastIndexOf(',', end - 1);
    const hop = hopAddress(text.slice(start + 1, end));
    if (hop === undefined) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
    if (start < 0) break;
    end = start;
  }
  return client;
}

/** A hop as an address: bare, `[v6]`, `[v6]:port` or `v4:port` (some balancers add the port). */
function hopAddress(raw: string): string | undefined {
  let text = raw.trim();
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || (end + 1 < text.length && !/^:\d{1,5}$/.test(text.slice(end + 1)))) return undefined;
    text = text.slice(1, end);
    return isIP(text) === 6 ? text.toLowerCase() : undefined;
  }
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  if (v4port) text = v4port[1] ?? '';
  return isIP(text) === 0 ? undefined : text.toLowerCase();
}
