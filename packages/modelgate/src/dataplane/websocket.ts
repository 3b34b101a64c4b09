import { type ClientRequest, request as httpRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { REQUEST_ID_HEADER } from '../http/request-id.js';
import { ERROR_CODES, type ErrorCode, errorBody } from '../kernel/errors.js';
import { setsGatewayCookie } from './browser-cookie.js';
import { HOP_BY_HOP_HEADERS, type OutgoingHeaders } from './headers.js';
import { joinUpstreamPath, type ProxyErrorInfo, type ProxyTarget, parseUpstream, upstreamErrorCode } from './proxy.js';

export interface UpgradeOptions {
  /** TCP (and TLS) connect timeout to the upstream → 504. */
  readonly connectTimeoutMs: number;
  /** Longest wait for the upstream's handshake answer once connected → 504. */
  readonly headersTimeoutMs: number;
  /** Called for upstream failures during the handshake or the relay. */
  readonly onError?: (error: unknown, info: ProxyErrorInfo) => void;
}

/**
 * A WebSocket target; `headers` come from `upstreamRequestHeaders(..., { websocket: true })`.
 * `stats` counts the relayed bytes each way (after the handshake) besides the upstream's status
 * and time; `answered` is told the status the caller gets, once it is written (101 for a relay).
 */
export type UpgradeTarget = Omit<ProxyTarget, 'headers'> & {
  readonly headers: OutgoingHeaders;
  readonly options: UpgradeOptions;
  readonly answered?: (status: number) => void;
};

/**
 * Relays an already-authenticated `Upgrade: websocket` request: opens a fresh connection to the
 * upstream, sends the handshake, relays its answer (101, or any refusal verbatim) and then pipes
 * bytes both ways until either side closes. When the upstream cannot be reached the caller gets
 * a plain `HTTP/1.1 502` (or `504` on timeout) with the registry's JSON body. Never throws.
 *
 * @example
 * ```ts
 * server.on('upgrade', (req, socket, head) => {
 *   proxyUpgrade(req, socket, head, { upstream, path: rest, headers, requestId, options });
 * });
 * ```
 */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: UpgradeTarget): void {
  const { options, requestId, stats } = target;
  const dispatchedAt = performance.now();
  let settled = false;
  let upstreamReq: ClientRequest | undefined;
  let upstreamSocket: Socket | undefined;
  let timer: NodeJS.Timeout | undefined;

  socket.on('error', () => {
    socket.destroy();
    upstreamReq?.destroy();
    upstreamSocket?.destroy();
  });
  socket.once('close', () => {
    if (!settled) {
      settled = true;
      clearTimeout(timer);
      upstreamReq?.destroy();
    }
  });
  if (socket.destroyed) return;

  const fail = (code: 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT', err: unknown): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    upstreamReq?.destroy();
    options.onError?.(err, { requestId, code, phase: 'request' });
    const written = writeUpgradeError(socket, code, requestId);
    if (written < 0) return;
    if (stats) stats.bytesOut += written;
    target.answered?.(ERROR_CODES[code].status);
  };

  let url: URL;
  let path: string;
  let secure: boolean;
  try {
    const parsed = parseUpstream(target.upstream);
    url = new URL(parsed.origin);
    secure = parsed.secure;
    path = joinUpstreamPath(parsed.basePath, target.path);
  } catch (err) {
    fail('UPSTREAM_UNAVAILABLE', err);
    return;
  }

  try {
    upstreamReq = (secure ? httpsRequest : httpRequest)({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      method: req.method ?? 'GET',
      path,
      headers: target.headers,
      agent: false,
    });
  } catch (err) {
    fail('UPSTREAM_UNAVAILABLE', err);
    return;
  }
  const pending = upstreamReq;

  timer = setTimeout(() => fail('UPSTREAM_TIMEOUT', new Error('upstream connect timeout')), options.connectTimeoutMs);
  pending.once('socket', (s: Socket) => {
    const connected = () => {
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(
        () => fail('UPSTREAM_TIMEOUT', new Error('upstream handshake timeout')),
        options.headersTimeoutMs,
      );
    };
    if (!s.connecting && !secure) connected();
    else s.once(secure ? 'secureConnect' : 'connect', connected);
  });

  pending.on('error', (err) => fail(upstreamErrorCode(err), err));

  pending.once('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
    if (settled) {
      upSocket.destroy();
      return;
    }
    settled = true;
    clearTimeout(timer);
    upstreamSocket = upSocket;
    upstreamAnswered(upRes);
    upSocket.on('error', (err) => {
      options.onError?.(err, { requestId, code: undefined, phase: 'response' });
      socket.destroy();
      upSocket.destroy();
    });
    upSocket.setNoDelay(true);
    (socket as Partial<Socket>).setNoDelay?.(true);

    socket.write(statusLine(upRes) + relayHeaders(upRes.rawHeaders, true), 'latin1');
    target.answered?.(upRes.statusCode ?? 101);
    if (stats) {
      stats.bytesOut += upHead.length;
      stats.bytesIn += head.length;
      upSocket.on('data', (chunk: Buffer) => {
        stats.bytesOut += chunk.length;
      });
      socket.on('data', (chunk: Buffer) => {
        stats.bytesIn += chunk.length;
      });
    }
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    upSocket.once('close', () => closeSoon(socket));
    socket.once('close', () => closeSoon(upSocket));
  });

  // The upstream refused the upgrade: pass its answer on and close.
  pending.once('response', (upRes: IncomingMessage) => {
    if (settled) {
      upRes.destroy();
      return;
    }
    settled = true;
    clearTimeout(timer);
    upstreamAnswered(upRes);
    upRes.on('error', () => socket.destroy());
    socket.write(statusLine(upRes) + relayHeaders(upRes.rawHeaders, false), 'latin1');
    target.answered?.(upRes.statusCode ?? 502);
    if (stats) {
      upRes.on('data', (chunk: Buffer) => {
        stats.bytesOut += chunk.length;
      });
    }
    upRes.pipe(socket, { end: false });
    upRes.once('end', () => closeSoon(socket));
  });

  pending.end();

  function upstreamAnswered(upRes: IncomingMessage): void {
    if (!stats) return;
    stats.upstreamStatus = upRes.statusCode ?? 0;
    stats.upstreamMs = performance.now() - dispatchedAt;
  }
}

function statusLine(res: IncomingMessage): string {
  const status = res.statusCode ?? 502;
  const reason = (res.statusMessage ?? STATUS_CODES[status] ?? '').replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
  return `HTTP/1.1 ${status} ${reason}\r\n`;
}

/**
 * Header block for the caller, from the upstream's raw headers: hop-by-hop headers dropped, except
 * `Connection`/`Upgrade` on a 101; a refusal is sent close-delimited (`Connection: close`).
 */
function relayHeaders(rawHeaders: readonly string[], switching: boolean): string {
  const named = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() !== 'connection') continue;
    for (const t of (rawHeaders[i + 1] as string).split(',')) named.add(t.trim().toLowerCase());
  }
  let block = '';
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    const keep = switching && (lower === 'connection' || lower === 'upgrade');
    if (!keep && (HOP_BY_HOP_HEADERS.has(lower) || named.has(lower))) continue;
    if (lower === 'set-cookie' && setsGatewayCookie(rawHeaders[i + 1] as string)) continue;
    block += `${name}: ${rawHeaders[i + 1]}\r\n`;
  }
  if (!switching) block += 'Connection: close\r\n';
  return `${block}\r\n`;
}

/**
 * Answers a WebSocket handshake on its raw socket with a registry error, with the headers
 * `sendError` gives a response (and `headers`, such as a challenge), then closes it: for a
 * refused handshake and for an upstream that could not be reached alike.
 * @returns the body's bytes, or -1 when the caller is gone.
 *
 * @example
 * ```ts
 * writeUpgradeError(socket, 'CREDENTIAL_MISSING', requestId, { headers: { 'www-authenticate': 'Bearer' } });
 * ```
 */
export function writeUpgradeError(
  socket: Duplex,
  code: ErrorCode,
  requestId: string,
  options: { readonly message?: string; readonly headers?: Readonly<Record<string, string | string[]>> } = {},
): number {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return -1;
  }
  const status = ERROR_CODES[code].status;
  const body = JSON.stringify(errorBody(code, requestId, options.message));
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'cache-control: no-store',
    `${REQUEST_ID_HEADER}: ${requestId}`,
    'connection: close',
  ];
  for (const [k, v] of Object.entries(options.headers ?? {})) {
    for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
  }
  closeSoon(socket, `${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8');
  return Buffer.byteLength(body);
}

/** How long a closed relay waits for the peer's FIN before destroying a half-open socket. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Ends the socket (after `last`), then destroys it if the peer has not closed its side within a
 * grace period: server sockets allow half-open connections, which would otherwise linger.
 */
function closeSoon(socket: Duplex, last?: string, encoding: BufferEncoding = 'latin1'): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  if (last === undefined) socket.end();
  else socket.end(last, encoding);
}
