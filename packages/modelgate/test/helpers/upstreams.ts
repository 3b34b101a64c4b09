import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/** A running test upstream with the requests it has seen. */
export interface TestUpstream {
  readonly url: string;
  readonly hits: { method: string; url: string; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers `{"upstream": tag, "path": ...}` and records every request. */
export async function recordingUpstream(tag: string): Promise<TestUpstream> {
  const hits: TestUpstream['hits'] = [];
  const server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ upstream: tag, path: req.url }));
    });
  });
  const url = await listen(server);
  return { url, hits, close: () => closeServer(server) };
}

/** Accepts connections and never answers (for 504). */
export async function silentUpstream(): Promise<TestUpstream> {
  const hits: TestUpstream['hits'] = [];
  const server = createServer((req) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
  });
  const url = await listen(server);
  return { url, hits, close: () => closeServer(server) };
}

/** A WebSocket echo server (prefixes each message with `echo:`). */
export async function websocketUpstream(): Promise<TestUpstream> {
  const hits: TestUpstream['hits'] = [];
  const server = createServer((_req, res) => res.end('not a websocket'));
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    ws.on('message', (data) => ws.send(`echo:${data.toString()}`));
  });
  const url = await listen(server);
  return {
    url,
    hits,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      await closeServer(server);
    },
  };
}

/**
 * A model that takes time: every request waits `delayMs`, then is passed to `target` (a real
 * model server, such as the demo's) and its answer relayed back. Tests that need requests in
 * flight inside the gateway use it; the demo's classifier answers at once.
 */
export async function slowModel(target: string, delayMs: number): Promise<TestUpstream> {
  const hits: TestUpstream['hits'] = [];
  const to = new URL(target);
  const server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    // The gateway may be killed while its request waits here: then nothing goes on to the model.
    req.on('error', () => res.destroy());
    setTimeout(() => {
      if (req.destroyed) return;
      const upstream = httpRequest(
        { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, delayMs);
  });
  const url = await listen(server);
  return { url, hits, close: () => closeServer(server) };
}

/** A URL where nothing listens (for 502). */
export async function closedPortUrl(): Promise<string> {
  // A privileged port nothing here listens on: an ephemeral port freed by close() could be taken
  // by another test's server before the gateway dials it.
  return 'http://127.0.0.1:1';
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
