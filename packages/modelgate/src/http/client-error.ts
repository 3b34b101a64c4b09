import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { bearerChallenge } from '../kernel/denial.js';
import { ERROR_CODES, type ErrorCode, errorBody } from '../kernel/errors.js';
import type { Logger } from '../log/logger.js';
import { newRequestId, REQUEST_ID_HEADER } from './request-id.js';

/** How long a refused connection keeps reading (and dropping) what the client still sends. */
const LINGER_MS = 2000;
/** A header name longer than this is not one we look for; stop scanning there. */
const MAX_NAME = 64;
const COLON = 0x3a;
const LINE_FEED = 0x0a;

/**
 * The header field node's parser was reading when the request head crossed `maxHeaderSize`,
 * lower-cased, judged from the bytes the parser still holds (`err.rawPacket`, the chunk being
 * parsed, and `err.bytesParsed`, where it stopped in that chunk). `undefined` when that chunk
 * does not show where the field began (the head came in many small pieces, or the request line
 * itself is too long).
 *
 * @example
 * ```ts
 * overflowingField(Buffer.from('GET / HTTP/1.1\r\nAuthorization: Bearer aaaa'), 40); // 'authorization'
 * overflowingField(Buffer.from('aaaaaaaa'), 8);                                       // undefined
 * ```
 */
export function overflowingField(packet: Buffer, bytesParsed: number | undefined): string | undefined {
  if (packet.length === 0) return undefined;
  const end = Math.min(typeof bytesParsed === 'number' && bytesParsed > 0 ? bytesParsed : packet.length, packet.length);
  const lineFeed = packet.lastIndexOf(LINE_FEED, end - 1);
  // Without a line feed before the stop, this chunk starts inside a field begun earlier.
  if (lineFeed < 0) return undefined;
  const colon = packet.indexOf(COLON, lineFeed + 1);
  if (colon < 0 || colon - lineFeed - 1 > MAX_NAME) return undefined;
  const name = packet.toString('latin1', lineFeed + 1, colon);
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name) ? name.toLowerCase() : undefined;
}

/** What node's HTTP parser attaches to a `clientError` (`rawPacket` is a Buffer at run time). */
export interface ParserError extends Error {
  code?: string;
  rawPacket?: unknown;
  bytesParsed?: number;
}

/** What a connection refused by node's HTTP parser is answered, as a registry code. */
export function clientErrorCode(err: ParserError): ErrorCode {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      // A credential far over the limit is a bad credential (401), not a client that cannot
      // trim its cookies (431): scripts and SDKs react to 401.
      return Buffer.isBuffer(err.rawPacket) && overflowingField(err.rawPacket, err.bytesParsed) === 'authorization'
        ? 'CREDENTIAL_TOO_LARGE'
        : 'HEADERS_TOO_LARGE';
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 'PAYLOAD_TOO_LARGE';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'REQUEST_TIMEOUT';
    default:
      return 'BAD_REQUEST';
  }
}

/**
 * The `clientError` handler of every HTTP listener (node:http's event, fastify's
 * `clientErrorHandler`): a request node's parser refuses before any handler runs still gets the
 * registry's JSON error with a request id, and a credential too large for the header limit is a
 * 401 with a `WWW-Authenticate` challenge like any other bad credential. `maxHeaderSize` stays at
 * node's default (16 KB): raising it to fit a hostile 1 MB token would let every connection pin
 * that much memory.
 *
 * @example
 * ```ts
 * server.on('clientError', clientErrorHandler(log, 'inference'));
 * ```
 */
export function clientErrorHandler(log: Logger, listener: string): (err: ParserError, socket: Socket) => void {
  const answered = new WeakSet<Socket>();
  return (err, socket) => {
    // The parser may report again while an answered connection lingers: it is closing already.
    if (answered.has(socket) || socket.destroyed) return;
    // A reset, or a peer that stopped reading: nobody to answer; free the socket at once.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    const code = clientErrorCode(err);
    const requestId = newRequestId();
    const status = ERROR_CODES[code].status;
    const body = JSON.stringify(errorBody(code, requestId));
    const challenge = status === 401 ? `www-authenticate: ${bearerChallenge('modelgate', 'malformed')}\r\n` : '';
    log.info(
      { listener, request_id: requestId, status, code, peer: socket.remoteAddress },
      'request refused by the HTTP parser',
    );
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        'cache-control: no-store\r\n' +
        `${REQUEST_ID_HEADER}: ${requestId}\r\n${challenge}` +
        `connection: close\r\n\r\n${body}`,
    );
    // Closing with unread input makes the kernel send a reset, which can destroy the answer
    // before the client reads it; keep draining for a moment (nginx's lingering close).
    socket.resume();
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  };
}
