import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { countBody, receivedHeaders, sendJson } from './http.js';
import {
  handleChatCompletion,
  handleListChatModels,
  type StreamRegistry,
  sendOpenAiError,
  sendUnknownUrl,
} from './openai.js';
import {
  handleListModels,
  handlePing,
  handlePrediction,
  sendMethodNotAllowed,
  sendResourceNotFound,
} from './torchserve.js';

export interface DemoServerOptions {
  /** Interface to bind; default `127.0.0.1`. */
  readonly host?: string;
  /** Port to bind; default 0 (any free port, see `url`). */
  readonly port?: number;
  /** Pause between streamed completion tokens, in milliseconds; default 20. */
  readonly tokenDelayMs?: number;
  /** Largest accepted request body on the model routes; default 1 MiB (larger → 413). */
  readonly maxBodyBytes?: number;
}

export interface DemoStreamStats {
  /** Completions streaming right now. */
  readonly active: number;
  /** Streams that sent `[DONE]`. */
  readonly completed: number;
  /** Streams stopped early because the client went away or the server closed. */
  readonly aborted: number;
}

export interface DemoServer {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Counters for streamed completions (lets tests see that a disconnect stopped generation). */
  streamStats(): DemoStreamStats;
  /** Stops accepting connections, ends running streams and closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

function splitPath(url: string): { path: string; segments: string[] } {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return { path, segments: path.split('/').slice(1) };
}

async function handleEcho(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bodyBytes = await countBody(req);
  sendJson(res, 200, { method: req.method, path: req.url, headers: receivedHeaders(req), bodyBytes });
}

/**
 * Starts the demo model server: a lexicon sentiment classifier behind TorchServe-like routes and
 * an OpenAI-compatible chat endpoint that streams over SSE, plus an echo route for proxy tests.
 *
 * Routes: `GET /ping`, `GET /models`, `POST /predictions/sentiment`, `GET /v1/models`,
 * `POST /v1/chat/completions`, and any method on `/echo/...` (answers `{method, path, headers,
 * bodyBytes}` as received; a repeated header is an array).
 *
 * @example
 * ```ts
 * const demo = await startDemoServer({ port: 0 });
 * const res = await fetch(`${demo.url}/predictions/sentiment`, {
 *   method: 'POST',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ text: 'I love it' }),
 * });
 * await res.json(); // { label: 'positive', score: 0.8.. }
 * await demo.close();
 * ```
 */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const tokenDelayMs = options.tokenDelayMs ?? 20;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isFinite(tokenDelayMs) || tokenDelayMs < 0) throw new RangeError('tokenDelayMs must be >= 0');
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) throw new RangeError('maxBodyBytes must be an integer >= 0');

  const streams: StreamRegistry = { active: new Set(), completed: 0, aborted: 0 };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { path, segments } = splitPath(req.url ?? '/');
    const method = req.method ?? 'GET';
    const [first] = segments;

    if (first === 'echo') return handleEcho(req, res);
    if (first === 'predictions') return handlePrediction(req, res, segments.slice(1), maxBodyBytes);
    if (path === '/ping') {
      if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') return sendMethodNotAllowed(res, 'GET, POST');
      return handlePing(req, res);
    }
    if (path === '/models') {
      if (method !== 'GET' && method !== 'HEAD') return sendMethodNotAllowed(res, 'GET');
      return handleListModels(req, res);
    }
    if (path === '/v1/models') {
      if (method !== 'GET' && method !== 'HEAD') {
        return sendOpenAiError(res, 405, `Method ${method} is not allowed on ${path}.`, {
          code: 'method_not_allowed',
          headers: { allow: 'GET' },
        });
      }
      return handleListChatModels(req, res);
    }
    if (path === '/v1/chat/completions') {
      if (method !== 'POST') {
        return sendOpenAiError(res, 405, `Method ${method} is not allowed on ${path}.`, {
          code: 'method_not_allowed',
          headers: { allow: 'POST' },
        });
      }
      return handleChatCompletion(req, res, { maxBodyBytes, tokenDelayMs, streams });
    }
    if (first === 'v1') return sendUnknownUrl(req, res, path);
    return sendResourceNotFound(res);
  };

  const server = createServer({ noDelay: true }, (req, res) => {
    route(req, res).catch(() => {
      // Reaching here means the client vanished mid-request or there is a bug; either way the
      // process must keep serving, and only a response not yet started can still say so.
      if (!res.headersSent && !req.socket.destroyed) {
        sendJson(res, 500, { code: 500, type: 'InternalServerException', message: 'Internal server error' });
      } else {
        res.destroy();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${shownHost}:${address.port}`,
    streamStats: () => ({ active: streams.active.size, completed: streams.completed, aborted: streams.aborted }),
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const controller of streams.active) controller.abort();
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
