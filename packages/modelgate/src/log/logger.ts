import { fstatSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { type DestinationStream, destination, type Logger, pino } from 'pino';
import { scrubUrl } from './url-scrubber.js';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they appear. Request headers are already reduced to an allowlist
 * by `describeRequest`; this is the second line of defence for anything logged by hand.
 */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'key',
  'value',
  '*.authorization',
  '*.Authorization',
  '*.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.key',
  '*.api_key',
  '*.value',
  // node:http parse errors carry the raw request bytes (headers included); fastify logs them at trace.
  'rawPacket',
  '*.rawPacket',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

/**
 * Creates the process logger: JSON lines, pretty-printed when stdout is a terminal.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: 'info' });
 * log.info({ deployment: 'demo' }, 'deployed');
 * ```
 */
export function createLogger(options: {
  level: string;
  destination?: DestinationStream;
  pretty?: boolean;
  /** Called with every child logger (see `LevelControl`, which changes their level on SIGHUP). */
  onChild?: (child: Logger) => void;
}): Logger {
  const base = {
    level: options.level,
    ...(options.onChild ? { onChild: options.onChild } : {}),
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.destination) return pino(base, options.destination);
  const pretty = options.pretty ?? process.stdout.isTTY === true;
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } } });
  }
  // Whole lines, at most PIPE_BUF (4 KiB) per write: such writes to a pipe are atomic, so the
  // workers of a multi-process node sharing stdout never interleave inside a line. The access log
  // hands over the lines of one event-loop turn at once (see access-log.ts).
  // A pipe (a container runtime, journald) gets buffered, asynchronous writes: a reader that
  // stalls must not stall the data plane; `flushLogger` (on shutdown) writes out what is pending.
  // A file (or /dev/null) is written synchronously, as pino does by default: a file never pushes
  // back, and a direct write costs less than a thread-pool round trip per batch.
  return pino(base, destination({ dest: 1, sync: isFileOrDevice(1), maxWrite: 4096 }));
}

/** Whether `fd` is a regular file or a character device (not a pipe or a socket). */
function isFileOrDevice(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFile() || stat.isCharacterDevice();
  } catch {
    return false;
  }
}

/** Writes out buffered log lines; call before the process exits. */
export function flushLogger(log: Logger): void {
  try {
    log.flush();
  } catch {
    // Nothing pending or the destination is already closed.
  }
}

const LOGGED_HEADERS = ['user-agent', 'content-type', 'content-length', 'x-forwarded-for', 'host'];

/** The safe view of a request for a log line: method, path, an allowlist of headers. */
export function describeRequest(req: IncomingMessage): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  for (const name of LOGGED_HEADERS) if (req.headers[name] !== undefined) headers[name] = req.headers[name];
  return { method: req.method, url: redactUrl(req.url ?? ''), headers, remote: req.socket?.remoteAddress };
}

/**
 * A management URL safe to log: credentials and JWTs scrubbed everywhere, secret-looking query
 * values (`?token=...`) redacted; the same scrubber as the data plane's access line.
 */
export function redactUrl(rawUrl: string): string {
  return scrubUrl(rawUrl, 'unless-secret-name');
}
