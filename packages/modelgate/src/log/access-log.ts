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
  const stream = (log as unknown as Record<symbol, { write(line: string): unknown }>)[symbols.streamSym];
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
