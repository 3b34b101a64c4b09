import { type Logger, symbols } from 'pino';

/** What one access line says about a finished data-plane request. */
export interface AccessFields {
  readonly requestId: string;
  readonly method: string | undefined;
  readonly status: number;
  /** The deployment name; absent when the request was refused before routing found one. */
  readonly deployment: string | undefined;
  /** `kind:id` of the principal; absent for refused requests. */
  readonly principal: string | undefined;
  readonly remote: string | undefined;
}

/** Writes one access line; a no-op below the `info` level. */
export type AccessLog = (fields: AccessFields) => void;

const INFO = 30;
/** Characters that need no JSON escaping: the shape of ids, names, methods and addresses. */
const PLAIN = /^[\w.:@/+=%-]*$/;

/**
 * The data plane's access log: one preformatted JSON line per request, written straight to the
 * logger's destination. Built only from fields that are safe by construction (request id,
 * method, status, deployment name, principal id, client address): never the URL, a header or a
 * body, so nothing needs redacting, and no generic serializer or redaction pass runs per request.
 * The line has pino's shape (`level`, `time`, `pid`, bindings, `msg`), so log tooling reads it
 * like any other.
 *
 * @example
 * ```ts
 * const access = createAccessLog(log, { listener: 'inference' });
 * access({ requestId, method: 'GET', status: 200, deployment: 'demo', principal: 'api_key:k1', remote: '10.0.0.1' });
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
    if (fields.deployment !== undefined) line += `,"deployment":${json(fields.deployment)}`;
    line += `,"status":${fields.status | 0}`;
    if (fields.principal !== undefined) line += `,"principal":${json(fields.principal)}`;
    if (fields.remote !== undefined) line += `,"remote":${json(fields.remote)}`;
    stream.write(`${line},"msg":"request"}\n`);
  };
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
    // Before pino's own exit hook, which flushes its destination synchronously.
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
