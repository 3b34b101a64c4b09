import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { REQUEST_ID_HEADER } from '../http/request-id.js';
import { sendError } from '../http/respond.js';
import { continueWhenPulled } from './continue.js';
import { closeAfterEarlyAnswer } from './early-answer.js';
import { downstreamResponseHeaderList, type HeaderList, type OutgoingHeaders, setListHeader } from './headers.js';
import { type InFlightLinks, InFlightList } from './in-flight.js';

/** Where one request goes. */
export interface ProxyTarget {
  /** The deployment's upstream base URL, e.g. `http://127.0.0.1:9000/base`. */
  readonly upstream: string;
  /** The raw remainder from routing (`/x?q=1`), appended to the upstream's base path. */
  readonly path: string;
  /** From `upstreamRequestHeaders`, or its flat list form `upstreamRequestHeaderList`. */
  readonly headers: OutgoingHeaders | HeaderList;
  readonly requestId: string;
  /** Filled in as the exchange runs (for the access line and metrics); the caller's object, no allocation. */
  readonly stats?: ExchangeStats;
}

/** What the proxy reports about one exchange, written into an object the caller owns. */
export interface ExchangeStats {
  /** The upstream's status; stays 0 when no response head came. */
  upstreamStatus: number;
  /** Milliseconds from dispatch to the upstream's response head; stays negative when none came. */
  upstreamMs: number;
  /** Request body bytes read from the caller for the upstream. */
  bytesIn: number;
  /** Response body bytes written to the caller (the upstream's, or the gateway's error body). */
  bytesOut: number;
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
  /**
   * Longest silence between two chunks of the upstream's response body; 0 disables. Defaults to
   * `headersTimeoutMs`: equal timeouts let undici refresh one timer instead of re-creating two.
   */
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
  /** Exchanges in flight (read at scrape time: `modelgate_open_streams`). */
  inFlight(): number;
  /**
   * `forward` for a caller that does not wait for the end: the same exchange without the
   * promise (the gateway's hot path, where nobody awaits it).
   */
  send(req: IncomingMessage, res: ServerResponse, target: ProxyTarget): void;
  /**
   * Closes the upstream connections (idempotent): in-flight exchanges get `closeGraceMs` to
   * finish (an SSE stream may never end on its own), then the rest are cut: a caller still
   * waiting for headers gets 503 `SHUTTING_DOWN`, a caller mid-response loses its connection.
   */
  close(): Promise<void>;
}

const DEFAULT_CLOSE_GRACE_MS = 5_000;

/**
 * The data plane's upstream client: one undici `Agent` (keep-alive, connection reuse per
 * origin), request and response bodies streamed with backpressure, nothing buffered.
 *
 * Each exchange is one undici dispatch handler writing the answer straight into `res`: no
 * response stream, no `pipeline()` and no `AbortController` per request (on success those cost
 * more than the proxying itself). Backpressure: a full `res` pauses the upstream socket until
 * `drain`. The headers and body timeouts are equal by default, so undici refreshes one timer
 * per exchange instead of re-creating two.
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
  const bodyTimeout = options.bodyTimeoutMs ?? headersTimeout;
  if (!Number.isFinite(bodyTimeout) || bodyTimeout < 0) {
    throw new RangeError('bodyTimeoutMs must be a finite number >= 0');
  }
  const agent = new Agent({ connect: { timeout: connectTimeout }, headersTimeout, bodyTimeout });
  const closeGrace = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  if (!Number.isFinite(closeGrace) || closeGrace < 0) throw new RangeError('closeGraceMs must be a finite number >= 0');
  const upstreams = new UpstreamCache();
  const active = new InFlightList<Exchange>();
  let closing: Promise<void> | undefined;
  let onIdle: (() => void) | undefined;
  const hooks: ExchangeHooks = {
    onError: options.onError,
    done(exchange) {
      active.delete(exchange);
      if (active.size === 0) onIdle?.();
    },
  };

  function send(req: IncomingMessage, res: ServerResponse, target: ProxyTarget, done?: () => void): void {
    if (res.destroyed || req.socket.destroyed) {
      done?.();
      return;
    }
    const fixedLength = hasHeader(target.headers, 'content-length');
    const exchange = new Exchange(req, res, target.requestId, fixedLength, hooks, done, target.stats);
    active.add(exchange);
    const { origin, basePath } = upstreams.get(target.upstream);
    agent.dispatch(
      {
        origin,
        path: joinUpstreamPath(basePath, target.path),
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        // undici takes a flat list whose repeated fields carry a list of values, as node does.
        headers: target.headers as Dispatcher.DispatchOptions['headers'],
        body: exchange.body,
      },
      exchange,
    );
  }

  return {
    forward(req, res, target) {
      return new Promise<void>((resolve) => send(req, res, target, resolve));
    },
    send(req, res, target) {
      send(req, res, target);
    },
    inFlight: () => active.size,
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
    for (const exchange of active.snapshot()) exchange.abort('shutdown');
    await agent.close();
  }
}

interface ExchangeHooks {
  readonly onError: ProxyOptions['onError'];
  done(exchange: Exchange): void;
}

/** The exchange a response belongs to, so its listeners are shared functions, not per-request closures. */
const EXCHANGE = Symbol('modelgate.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: Exchange };

/** `close` on the caller's response: a caller that left before the answer ended aborts the exchange. */
function onResponseClose(this: ExchangeResponse): void {
  const exchange = this[EXCHANGE];
  if (exchange !== undefined && !this.writableFinished) exchange.abort('caller');
}

/** `drain` on the caller's response: the upstream socket paused for backpressure may resume. */
function onResponseDrain(this: ExchangeResponse): void {
  this[EXCHANGE]?.resumeUpstream?.();
}

/**
 * One request through the proxy, as an undici dispatch handler (the callback API undici runs
 * natively). Never throws out of a callback: failures become a 502/504 before the answer began,
 * a destroyed caller connection after. Allocates no closure per request: the response's
 * listeners are shared functions that find the exchange on the response.
 */
class Exchange implements Dispatcher.DispatchHandler, InFlightLinks<Exchange> {
  previousInFlight: Exchange | undefined = undefined;
  nextInFlight: Exchange | undefined = undefined;
  /** The upload, when the request has one. */
  readonly body: PassThrough | null = null;
  private abortUpstream: ((err: Error) => void) | undefined;
  private abortedBy: 'caller' | 'shutdown' | undefined;
  /** undici's `resume` for a paused upstream response (see `onData`). */
  resumeUpstream: (() => void) | undefined;
  private finished = false;
  private readonly dispatchedAt: number;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly requestId: string,
    /** The upload has a `Content-Length` (see `closeAfterEarlyAnswer`). */
    private readonly fixedLength: boolean,
    private readonly hooks: ExchangeHooks,
    private readonly resolve: (() => void) | undefined,
    private readonly stats: ExchangeStats | undefined,
  ) {
    this.dispatchedAt = stats === undefined ? 0 : performance.now();
    (res as ExchangeResponse)[EXCHANGE] = this;
    // Never removed: the response lives as long as this exchange, and `abort` is a no-op once settled.
    res.on('close', onResponseClose);
    if (requestHasBody(req)) {
      // A separate stream, so undici destroying the body on failure cannot reset the caller's
      // socket before the 502 is written.
      const pass = new PassThrough();
      pass.on('error', ignore);
      this.body = pass;
      req.once('close', () => {
        if (!req.complete) pass.destroy();
      });
      req.once('error', (err) => pass.destroy(err));
      req.pipe(pass);
      if (stats !== undefined) {
        req.on('data', (chunk: Buffer) => {
          stats.bytesIn += chunk.length;
        });
      }
      // `Expect: 100-continue`: asked for only once admitted and the upstream pulls the body.
      continueWhenPulled(res, pass);
    }
  }

  /** Cuts the upstream exchange: the caller left, or `close()` ran out of grace. */
  abort(by: 'caller' | 'shutdown'): void {
    if (this.finished || this.abortedBy !== undefined) return;
    this.abortedBy = by;
    this.abortUpstream?.(new ProxyAbort(by));
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.abortedBy !== undefined) abort(new ProxyAbort(this.abortedBy));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx from the upstream: not relayed (the caller's `100 Continue` is ours); the final answer follows.
    if (statusCode < 200) return true;
    const { res, stats } = this;
    // The head came before the whole upload was read: this upstream connection must not be reused.
    if (this.body !== null) closeAfterEarlyAnswer(this.req, this.body, this.fixedLength);
    // A flat [name, value, ...] list: node writes it as is, with no header object to build.
    const headers = downstreamResponseHeaderList(rawHeaders);
    setListHeader(headers, REQUEST_ID_HEADER, this.requestId);
    this.resumeUpstream = resume;
    try {
      res.writeHead(statusCode, headers);
    } catch (err) {
      // A header node refuses to send (e.g. a bad character from the upstream): 502, not a crash.
      this.fail(err, 'response');
      return false;
    }
    if (stats !== undefined) {
      stats.upstreamStatus = statusCode;
      stats.upstreamMs = performance.now() - this.dispatchedAt;
    }
    // Streams (SSE, chunked) get their headers now; fixed-length answers go out in one write.
    if (!hasHeader(headers, 'content-length')) res.flushHeaders();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.stats !== undefined) this.stats.bytesOut += chunk.length;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', onResponseDrain);
    return false;
  }

  onComplete(): void {
    this.res.end();
    this.settle();
  }

  onError(err: Error): void {
    this.fail(err, this.res.headersSent ? 'response' : 'request');
  }

  private fail(err: unknown, phase: 'request' | 'response'): void {
    if (this.finished) return;
    const { req, res } = this;
    if (this.body !== null) req.unpipe(this.body);
    this.abortUpstream?.(err instanceof Error ? err : new Error(String(err)));
    const callerGone = this.abortedBy === 'caller' || res.destroyed;
    const shutdown = this.abortedBy === 'shutdown';
    if (res.headersSent) {
      res.destroy();
      if (!callerGone && !shutdown) this.hooks.onError?.(err, { requestId: this.requestId, code: undefined, phase });
    } else if (!callerGone) {
      const code = shutdown ? 'SHUTTING_DOWN' : phase === 'response' ? 'UPSTREAM_UNAVAILABLE' : upstreamErrorCode(err);
      if (code !== 'SHUTTING_DOWN') this.hooks.onError?.(err, { requestId: this.requestId, code, phase });
      // An unread upload must not keep the connection busy after the error.
      const written = sendError(res, code, this.requestId, { headers: req.complete ? {} : { connection: 'close' } });
      if (this.stats !== undefined) this.stats.bytesOut += written;
    }
    this.settle();
  }

  private settle(): void {
    if (this.finished) return;
    this.finished = true;
    this.hooks.done(this);
    this.resolve?.();
  }
}

/** Whether headers (an object or a flat list, lowercase names) carry `name`. */
function hasHeader(headers: OutgoingHeaders | HeaderList, name: string): boolean {
  if (!Array.isArray(headers)) return (headers as OutgoingHeaders)[name] !== undefined;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return true;
  return false;
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
