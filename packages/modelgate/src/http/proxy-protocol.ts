import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { type TLSSocket, Server as TlsServer } from 'node:tls';
import type { Config } from '../config/schema.js';
import { parseTrustedProxies, type TrustedProxies } from '../config/trusted-proxies.js';
import type { Logger } from '../log/logger.js';
import { looksLikeProxyHeader, type ProxySource, parseProxyHeader } from './proxy-header.js';

/** Why a connection was closed before HTTP (or TLS) saw it; the `reason` of the log line. */
export type ProxyRefusal =
  /** A peer not in `trusted_proxies` sent a PROXY header: it would choose its own address. */
  | 'untrusted_peer'
  /** A trusted peer sent something else first (the balancer is not set to send the header). */
  | 'header_missing'
  /** A trusted peer sent a header this node does not accept (see `parseProxyHeader`). */
  | 'header_invalid'
  /** The header did not complete within `proxy_protocol_timeout_ms`, or the peer closed first. */
  | 'header_incomplete';

export interface ProxyProtocolOptions {
  /** The peers that must send a header; no one else may. */
  readonly trusted: TrustedProxies;
  /** How long a connection may take to send its header (or, from anyone, its first bytes). */
  readonly timeoutMs: number;
  /** Told once per refused connection; `detail` is a fixed phrase, never the peer's bytes. */
  readonly onRefused: (refusal: { reason: ProxyRefusal; peer: string; detail?: string }) => void;
}

/**
 * Applies `proxy_protocol` to one listener: on the inference listener unless `off`, on the
 * management listener only with `all`. Refused connections are logged at info with the peer and
 * the reason (never the bytes it sent).
 *
 * @example
 * ```ts
 * const server = createListenerServer(address, handler, tls);
 * useProxyProtocol(server, config, 'inference', log);
 * ```
 */
export function useProxyProtocol(
  server: Server,
  config: Pick<Config, 'proxy_protocol' | 'proxy_protocol_timeout_ms' | 'trusted_proxies'>,
  listener: 'inference' | 'management',
  log: Logger,
): void {
  if (config.proxy_protocol === 'off' || (listener === 'management' && config.proxy_protocol !== 'all')) return;
  const trusted = parseTrustedProxies(config.trusted_proxies);
  // The config was validated at load; a bad list here is a bug, not input.
  if ('problems' in trusted) throw new Error(trusted.problems.join('; '));
  acceptProxyProtocol(server, {
    trusted,
    timeoutMs: config.proxy_protocol_timeout_ms,
    onRefused: (refusal) => log.info({ listener, ...refusal }, 'connection refused: PROXY protocol'),
  });
}

/** The source each PROXY-fronted raw socket took, so the TLS socket above it can take it too. */
const sources = new WeakMap<Socket, ProxySource>();

/**
 * Makes `server` (an http or https listener, created and not yet listening) speak the PROXY
 * protocol: every accepted connection first goes through {@link readProxyHeader}, then is handed,
 * with the bytes after the header put back, to the listeners the server had (node's HTTP parser,
 * or the TLS handshake that precedes it). A connection's `remoteAddress`, `remotePort` and
 * `remoteFamily` become the client the balancer reports, as HAProxy's `accept-proxy` does, so
 * everything that reads the peer (`clientAddress`, the `X-Forwarded-For` sent upstream, the
 * access and error logs) sees the client. Call it after the server is created and before any
 * other `connection` listener is added. With node:cluster, each worker's server calls it: the
 * primary only passes accepted handles on.
 *
 * @example
 * ```ts
 * const server = createListenerServer(address, handler, tls);
 * acceptProxyProtocol(server, { trusted, timeoutMs: 10_000, onRefused: (r) => log.info(r, 'refused') });
 * await listen(server, address, 'inference_address');
 * ```
 */
export function acceptProxyProtocol(server: Server, options: ProxyProtocolOptions): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    readProxyHeader(socket, options, (source) => {
      if (source !== undefined) adoptSource(socket, source);
      for (const handler of handlers) handler.call(server, socket);
    });
  });
  if (server instanceof TlsServer) {
    // Runs before node's HTTP handling of the decrypted connection. `_parent` is the raw socket
    // node:tls wrapped (an internal name, stable since node 0.x; a test covers it).
    server.prependListener('secureConnection', (tlsSocket: TLSSocket) => {
      const raw = (tlsSocket as TLSSocket & { _parent?: Socket })._parent;
      const source = raw === undefined ? undefined : sources.get(raw);
      if (source !== undefined) adoptSource(tlsSocket, source);
    });
  }
}

/**
 * Reads what a new connection sends until it can decide, then either calls `accept` (with the
 * client the balancer reported, or undefined when the connection is the balancer's own or comes
 * from an untrusted peer without a header) with every byte after the header put back on the
 * socket, or destroys the socket and reports why. A trusted peer must send a valid header;
 * an untrusted one must not send one. Holds at most a header's worth of bytes, and at most
 * `timeoutMs`; a socket error in the meantime only closes that socket.
 */
export function readProxyHeader(
  socket: Socket,
  options: ProxyProtocolOptions,
  accept: (source: ProxySource | undefined) => void,
): void {
  if (socket.remoteAddress === undefined) {
    // Closed before it was accepted: there is no one to serve.
    socket.destroy();
    return;
  }
  const peer: string = socket.remoteAddress;
  const trusted = options.trusted.has(peer);
  let received: Buffer | undefined;
  const timer = setTimeout(() => refuse('header_incomplete', 'timed out'), options.timeoutMs);
  const onEnd = () => (received === undefined ? stop(true) : refuse('header_incomplete', 'closed by the peer'));
  const onError = () => stop(true);
  socket.on('readable', onReadable);
  socket.on('end', onEnd);
  socket.on('error', onError);
  socket.on('close', onError);

  function onReadable(): void {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
      received = received === undefined ? chunk : Buffer.concat([received, chunk]);
    }
    if (received === undefined) return;
    if (!trusted) {
      const proxy = looksLikeProxyHeader(received);
      if (proxy === true) refuse('untrusted_peer');
      else if (proxy === false) handOver(0, undefined);
      return;
    }
    const header = parseProxyHeader(received);
    if (header.kind === 'done') handOver(header.consumed, header.source);
    else if (header.kind === 'invalid') refuse('header_invalid', header.reason);
    else if (header.kind === 'absent') refuse('header_missing');
  }

  function handOver(consumed: number, source: ProxySource | undefined): void {
    const rest = received?.subarray(consumed);
    stop(false);
    if (rest !== undefined && rest.length > 0) socket.unshift(rest);
    accept(source);
  }

  function refuse(reason: ProxyRefusal, detail?: string): void {
    stop(true);
    options.onRefused(detail === undefined ? { reason, peer } : { reason, peer, detail });
  }

  /** Detaches this reader; with `destroy`, the connection is closed as well. */
  function stop(destroy: boolean): void {
    clearTimeout(timer);
    socket.off('readable', onReadable);
    socket.off('end', onEnd);
    socket.off('error', onError);
    socket.off('close', onError);
    if (destroy) socket.destroy();
  }
}

/** Makes `socket` report `source` as its peer, like a connection that came from the client itself. */
function adoptSource(socket: Socket, source: ProxySource): void {
  sources.set(socket, source);
  Object.defineProperties(socket, {
    remoteAddress: { value: source.address, configurable: true },
    remotePort: { value: source.port, configurable: true },
    remoteFamily: { value: source.family, configurable: true },
  });
}
