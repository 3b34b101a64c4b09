import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, type Dispatcher } from 'undici';
import { sendError } from '../server/respond.js';
import { continueWhenPulled } from './continue.js';
import { closeAfterEarlyAnswer } from './early-answer.js';
import { downstreamResponseHeaders, type OutgoingHeaders } from './headers.js';

/** Where one request goes. */
export interface ProxyTarget {
  /** The deployment's upstream base URL, e.g. `http://127.0.0.1:9000/base`. */
  readonly upstream: string;
  /** The raw remainder from routing (`/x?q=1`), appended to the upstream's base path. */
  readonly path: string;
  /** From `upstreamRequestHeaders`. */
  readonly headers: OutgoingHeaders;
  readonly requestId: string;
}

export type UpstreamErrorCode = 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TIMEOUT';

export interface ProxyErrorInfo {
  readonly requestId: string;
  /** The error the caller was answered with; `undefined` when the response had already begun. */
  readonly code: UpstreamErrorCode | undefined;
  readonly phase: 'request' | 'response';
}

export interface ProxyOptions {
  /** TCP (and TLS) connect timeout to the upstream → 504. */
  readonly connectTimeoutMs: number;
  /** Longest silence before the upstream's response headers (refreshed while uploading) → 504. */
  readonly headersTimeoutMs: number;
  /** Longest silence between two chunks of the upstream's response body; 0 disables. Default 300 s. */
  readonly bodyTimeoutMs?: number;
  /** How long `close()` lets in-flight exchanges finish before destroying them. Default 5 s. */
  readonly closeGraceMs?: number;
  /** Called for upstream failures (not for callers that went away), e.g. to log or count them. */
  readonly onError?: (error: unknown, info: ProxyErrorInfo) => void;
}

export interface UpstreamProxy {
  /**
   * Streams `req` to the target and the answer back to `res`. Never rejects: upstream failures
   * before the response began are answered 502/504 with the registry body; after that the
   * caller's connection is destroyed. A caller that leaves aborts the upstream request.
   */
  forward(req: IncomingMessage, res: ServerResponse, target: ProxyTarget): Promise<void>;
  /**
   * Closes the upstream connections (idempotent): in-flight exchanges get `closeGraceMs` to
   * finish (an SSE stream may never end on its own), then the rest are cut: a caller still
   * waiting for headers gets 503 `SHUTTING_DOWN`, a caller mid-response loses its connection.
   */
  close(): Promise<void>;
}

const DEFAULT_BODY_TIMEOUT_MS = 300_000;
const DEFAULT_CLOSE_GRACE_MS = 5_000;

/**
 * The data plane's upstream client: one undici `Agent` (keep-alive, connection reuse per
 * origin), request and response bodies streamed with backpressure, nothing buffered.
 *
 * @example
 * ```ts
 * const proxy = createProxy({ connectTimeoutMs: 5_000, headersTimeoutMs: 60_000 });
 * await proxy.forward(req, res, { upstream: 'http://127.0.0.1:9000', path: '/v1/x', headers, requestId });
 * ```
 */
export function createProxy(options: ProxyOptions): UpstreamProxy {
  const connectTimeout = positive(options.connectTimeoutMs, 'connectTimeoutMs');
  const headersTimeout = positive(options.headersTimeoutMs, 'headersTimeoutMs');
  const bodyTimeout = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  if (!Number.isFinite(bodyTimeout) || bodyTimeout < 0) {
    throw new RangeError('bodyTimeoutMs must be a finite number >= 0');
  }
  const agent = new Agent({ connect: { timeout: connectTimeout }, headersTimeout, bodyTimeout });
  const closeGrace = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  if (!Number.isFinite(closeGrace) || closeGrace < 0) throw new RangeError('closeGraceMs must be a finite number >= 0');
  const upstreams = new UpstreamCache();
  const active = new Set<AbortController>();
  let onIdle: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const onError = options.onError;

  async function forward(req: IncomingMessage, res: ServerResponse, target: ProxyTarget): Promise<void> {
    if (res.destroyed || req.socket.destroyed) return;
    const controller = new AbortController();
    const onCallerGone = () => {
      if (!res.writableFinished) controller.abort(new ProxyAbort('caller'));
    };
    res.once('close', onCallerGone);
    active.add(controller);

    let body: PassThrough | null = null;
    if (requestHasBody(req)) {
      // A separate stream, so undici destroying the body on failure cannot reset the caller's
      // socket before the 502 is written.
      const pass = new PassThrough();
      pass.on('error', ignore);
      body = pass;
      req.once('close', () => {
        if (!req.complete) pass.destroy();
      });
      req.once('error', (err) => pass.destroy(err));
      req.pipe(pass);
      continueWhenPulled(res, pass);
    }

    try {
      let upstream: Dispatcher.ResponseData;
      try {
        const { origin, basePath } = upstreams.get(target.upstream);
        upstream = await agent.request({
          origin,
          path: joinUpstreamPath(basePath, target.path),
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: target.headers,
          body,
          signal: controller.signal,
        });
        if (body !== null) closeAfterEarlyAnswer(req, body, target.headers['content-length'] !== undefined);
      } catch (err) {
        if (body !== null) req.unpipe(body);
        if (callerGone(res, controller)) return;
        const code = abortedBy(controller) === 'shutdown' ? 'SHUTTING_DOWN' : upstreamErrorCode(err);
        if (code !== 'SHUTTING_DOWN') onError?.(err, { requestId: target.requestId, code, phase: 'request' });
        // An unread upload must not keep the connection busy after the error.
        const headers: Record<string, string> = req.complete ? {} : { connection: 'close' };
        sendError(res, code, target.requestId, { headers });
        return;
      }

      const streaming = upstream.headers['content-length'] === undefined;
      try {
        res.socket?.setNoDelay(true);
        const headers = downstreamResponseHeaders(upstream.headers);
        headers['x-request-id'] = target.requestId;
        res.writeHead(upstream.statusCode, headers);
        // Streams (SSE, chunked) get their headers now; fixed-length answers go out in one write.
        if (streaming) res.flushHeaders();
      } catch (err) {
        upstream.body.destroy();
        if (callerGone(res, controller)) return;
        onError?.(err, { requestId: target.requestId, code: 'UPSTREAM_UNAVAILABLE', phase: 'response' });
        sendError(res, 'UPSTREAM_UNAVAILABLE', target.requestId);
        return;
      }

      try {
        await pipeline(upstream.body, res);
      } catch (err) {
        res.destroy();
        if (!callerGone(res, controller) && abortedBy(controller) !== 'shutdown') {
          onError?.(err, { requestId: target.requestId, code: undefined, phase: 'response' });
        }
      }
    } finally {
      res.off('close', onCallerGone);
      active.delete(controller);
      if (active.size === 0) onIdle?.();
    }
  }

  return {
    forward,
    close() {
      closing ??= shutDown();
      return closing;
    },
  };

  async function shutDown(): Promise<void> {
    if (active.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        onIdle = resolve;
        timer = setTimeout(resolve, closeGrace);
      });
      clearTimeout(timer);
      onIdle = undefined;
    }
    for (const controller of active) controller.abort(new ProxyAbort('shutdown'));
    await agent.close();
  }
}

/**
 * The registry code for a failed upstream exchange: timeouts → `UPSTREAM_TIMEOUT` (504),
 * everything else (refused, DNS, reset, TLS, malformed answer) → `UPSTREAM_UNAVAILABLE` (502).
 */
export function upstreamErrorCode(err: unknown): UpstreamErrorCode {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return 'UPSTREAM_TIMEOUT';
    default:
      return 'UPSTREAM_UNAVAILABLE';
  }
}

/**
 * Appends the routed remainder to the upstream's base path: `/v1` + `/x?q=1` → `/v1/x?q=1`.
 */
export function joinUpstreamPath(basePath: string, rest: string): string {
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  return base + (rest.startsWith('/') ? rest : `/${rest}`);
}

/**
 * Splits an upstream base URL into undici's origin and the base path. Only `http:` and `https:`
 * (`ws:`/`wss:` are read as their HTTP counterparts); a query or fragment on the base is ignored.
 */
export function parseUpstream(upstream: string): { origin: string; basePath: string; secure: boolean } {
  const url = new URL(upstream);
  let secure: boolean;
  if (url.protocol === 'http:' || url.protocol === 'ws:') secure = false;
  else if (url.protocol === 'https:' || url.protocol === 'wss:') secure = true;
  else throw new TypeError(`Unsupported upstream scheme ${url.protocol}`);
  const origin = `${secure ? 'https' : 'http'}://${url.host}`;
  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  return { origin, basePath, secure };
}

/** A request has a body when it announces one (`Content-Length` > 0 or `Transfer-Encoding`). */
function requestHasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

function ignore(): void {}

/** Why the proxy aborted an upstream request: the caller left, or `close()` cut it. */
class ProxyAbort extends Error {
  constructor(readonly by: 'caller' | 'shutdown') {
    super(by === 'caller' ? 'The caller went away' : 'The gateway is shutting down');
    this.name = 'AbortError';
  }
}

function abortedBy(controller: AbortController): 'caller' | 'shutdown' | undefined {
  const reason: unknown = controller.signal.reason;
  return reason instanceof ProxyAbort ? reason.by : undefined;
}

function callerGone(res: ServerResponse, controller: AbortController): boolean {
  return abortedBy(controller) === 'caller' || res.destroyed;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a finite number > 0`);
  return value;
}

/** Parsed upstream URLs, so the hot path does not parse the same URL on every request. */
class UpstreamCache {
  private readonly entries = new Map<string, { origin: string; basePath: string }>();

  get(upstream: string): { origin: string; basePath: string } {
    const hit = this.entries.get(upstream);
    if (hit) return hit;
    const { origin, basePath } = parseUpstream(upstream);
    if (this.entries.size >= 1024) this.entries.clear();
    const entry = { origin, basePath };
    this.entries.set(upstream, entry);
    return entry;
  }
}
