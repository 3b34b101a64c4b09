import { type Logger, symbols } from 'pino';
import { loggablePath } from '../log/loggable-path.js';

/** What one access line says about a finished data-plane request. */
export interface AccessFields {
  readonly requestId: string;
  readonly method: string | undefined;
  /** The raw request target; the line carries it through `loggablePath` (no query value, no credential). */
  readonly url: string;
  readonly status: number;
  /** The registry code when the gateway answered with an error itself (a refusal, a 502, ...). */
  readonly code: string | undefined;
  /** The deployment name; absent when the request was refused before routing found one. */
  readonly deployment: string | undefined;
  /** `kind:id` of the principal; absent for refused requests and public deployments. */
  readonly principal: string | undefined;
  readonly remote: string | undefined;
  /** Request body bytes forwarded to the upstream. */
  readonly bytesIn: number;
  /** Response body bytes sent to the caller. */
  readonly bytesOut: number;
  /** The upstream's status; 0 when no upstream answered. */
  readonly upstreamStatus: number;
  /** Milliseconds from forwarding to the upstream's response head; negative when none came. */
  readonly upstreamMs: number;
  /** Milliseconds from the request to the end of the answer. */
  readonly durationMs: number;
  /** The caller went away before the answer was complete. */
  readonly aborted: boolean;
}

/** Writes one access line; a no-op below the `info` level. */
export type AccessLog = (fields: AccessFields) => void;

const INFO = 30;
/** Characters that need no JSON escaping: the shape of ids, names, methods and addresses. */
const PLAIN = /^[\w.:@/+=%-]*$/;

/**
 * The data plane's access log: one preformatted JSON line per request, written straight to the
 * logger's destination. Built only from fields that are safe by construction (request id,
 * method, the path with every query value and credential-shaped text replaced, status, error
 * code, deployment name, principal id, client address, byte counts, durations): never a header or
 * a body, so nothing needs redacting, and no generic serializer or redaction pass runs per
 * request. The line has pino's shape (`level`, `time`, `pid`, bindings, `msg`), so log tooling
 * reads it like any other, and it stays well under 4 KiB (the path is bounded).
 *
 * @example
 * ```ts
 * const access = createAccessLog(log, { listener: 'inference' });
 * access({ requestId, method: 'GET', url: '/demo/predict?x=1', status: 200, code: undefined, deployment: 'demo',
 *   principal: 'api_key:k1', remote: '10.0.0.1', bytesIn: 0, bytesOut: 12, upstreamStatus: 200,
 *   upstreamMs: 3.2, durationMs: 3.9, aborted: false });
 * ```
 */
export function createAccessLog(log: Logger, bindings: Readonly<Record<string, string>>): AccessLog {
  const destination = (log as unknown as Record<symbol, LineStream | undefined>)[symbols.streamSym];
  const stream = destination && batchedLines(destination);
  let prefix = `,"pid":${process.pid}`;
  for (const [key, value] of Object.entries(bindings)) prefix += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  return (fields) => {
    if (log.levelVal > INFO || stream === undefined) return;
    let line = `{"level":30,"time":"${isoNow()}"${prefix},"request_id":${json(fields.requestId)}`;
    if (fields.method !== undefined) line += `,"method":${json(fields.method)}`;
    line += `,"path":${json(loggablePath(fields.url))}`;
    if (fields.deployment !== undefined) line += `,"deployment":${json(fields.deployment)}`;
    line += `,"status":${fields.status | 0}`;
    if (fields.code !== undefined) line += `,"code":${json(fields.code)}`;
    if (fields.principal !== undefined) line += `,"principal":${json(fields.principal)}`;
    if (fields.remote !== undefined) line += `,"remote":${json(fields.remote)}`;
    line += `,"bytes_in":${fields.bytesIn},"bytes_out":${fields.bytesOut}`;
    if (fields.upstreamStatus > 0) line += `,"upstream_status":${fields.upstreamStatus | 0}`;
    if (fields.upstreamMs >= 0) line += `,"upstream_ms":${millis(fields.upstreamMs)}`;
    line += `,"duration_ms":${millis(fields.durationMs)}`;
    if (fields.aborted) line += ',"aborted":true';
    stream.write(`${line},"msg":"request"}\n`);
  };
}

/** Milliseconds with microsecond precision (always a valid JSON number). */
function millis(ms: number): number {
  return Number.isFinite(ms) ? Math.round(ms * 1000) / 1000 : 0;
}

/** What pino writes to: a sonic-boom (the process's stdout) or any stream of lines. */
interface LineStream {
  write(data: string): unknown;
}

/** A batch stays at most PIPE_BUF: a write that size to a pipe is atomic (workers share stdout). */
const MAX_BATCH_BYTES = 4096;
const batches = new WeakMap<LineStream, LineStream>();
/** Batches not written yet; a process that exits mid-turn writes them out first. */
const unwritten = new Set<() => void>();
let exitHook = false;

/**
 * Access lines for `destination`, written in batches of whole lines: everything one event-loop
 * turn finished goes out in one write (at most {@link MAX_BATCH_BYTES}) at the end of the turn.
 * One write per request (a syscall handed to the thread pool, and its completion callback) cost
 * more than building the line. Nothing waits longer than the turn, so the log is not delayed.
 * One batcher per destination, so every listener's lines keep their order.
 */
function batchedLines(destination: LineStream): LineStream {
  const known = batches.get(destination);
  if (known) return known;
  if (!exitHook) {
    exitHook = true;
    // Before pino's own exit hook, which flushes its destination synchronously. Every line gets
    // out; on a pipe a batch whose asynchronous write is still in flight can land after them.
    process.prependOnceListener('exit', () => {
      for (const flush of unwritten) flush();
    });
  }
  let pending = '';
  let pendingBytes = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    unwritten.delete(flush);
    if (pending.length === 0) return;
    const batch = pending;
    pending = '';
    pendingBytes = 0;
    try {
      destination.write(batch);
    } catch {
      // The destination is closed (shutdown): nothing left to write to.
    }
  };
  const batcher: LineStream = {
    write(line: string) {
      const bytes = Buffer.byteLength(line);
      if (pendingBytes + bytes > MAX_BATCH_BYTES) flush();
      pending += line;
      pendingBytes += bytes;
      if (!scheduled) {
        scheduled = true;
        unwritten.add(flush);
        setImmediate(flush);
      }
    },
  };
  batches.set(destination, batcher);
  return batcher;
}

/** A JSON string literal; the common plain case skips `JSON.stringify`. */
function json(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

let lastMs = 0;
let lastIso = '';

/** `toISOString()` of now, formatted at most once per millisecond. */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}
