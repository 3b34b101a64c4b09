import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { type Duplex, Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { upstreamRequestHeaders } from '../src/dataplane/headers.js';
import { splitInferencePath } from '../src/dataplane/path.js';
import { createProxy, type ProxyOptions, type UpstreamProxy } from '../src/dataplane/proxy.js';
import { proxyUpgrade } from '../src/dataplane/websocket.js';
import { requestIdOf } from '../src/http/request-id.js';
import { sendError } from '../src/http/respond.js';

// ---------------------------------------------------------------------------------------------
// Harness: a tiny front server that uses the gateway modules the way the gateway does.

interface TestDeployment {
  upstream: string;
  forwardCredential?: boolean;
  principal?: string;
}

interface Front {
  url: string;
  port: number;
  proxy: UpstreamProxy;
  errors: unknown[];
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function startFront(
  deployments: Record<string, TestDeployment>,
  options: ProxyOptions = { connectTimeoutMs: 2_000, headersTimeoutMs: 10_000 },
): Promise<Front> {
  const errors: unknown[] = [];
  const proxy = createProxy({ ...options, onError: (err) => errors.push(err) });
  const route = (req: IncomingMessage) => {
    const id = requestIdOf(req);
    const split = splitInferencePath(req.url ?? '/');
    if (!split.ok) return { id, code: split.code } as const;
    const deployment = deployments[split.deployment];
    if (!deployment) return { id, code: 'DEPLOYMENT_NOT_FOUND' } as const;
    const upstreamHost = new URL(deployment.upstream).host;
    const context = {
      clientIp: req.socket.remoteAddress ?? '',
      proto: 'http' as const,
      host: req.headers.host ?? '',
      deployment: split.deployment,
      principal: deployment.principal,
      requestId: id,
      forwardCredential: deployment.forwardCredential ?? false,
      upstreamHost,
    };
    return { id, deployment, rest: split.rest, context } as const;
  };
  const server = createServer((req, res) => {
    const r = route(req);
    res.setHeader('x-request-id', r.id);
    if ('code' in r) return sendError(res, r.code ?? 'BAD_REQUEST', r.id);
    const headers = upstreamRequestHeaders(req.headers, r.context);
    void proxy.forward(req, res, { upstream: r.deployment.upstream, path: r.rest, headers, requestId: r.id });
  });
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    const r = route(req);
    if ('code' in r) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const headers = upstreamRequestHeaders(req.headers, { ...r.context, websocket: true });
    proxyUpgrade(req, socket, head, {
      upstream: r.deployment.upstream,
      path: r.rest,
      headers,
      requestId: r.id,
      options: { ...options, onError: (err) => errors.push(err) },
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proxy,
    errors,
    async close() {
      await stop(server);
      await proxy.close();
    },
  };
}

interface Upstream {
  url: string;
  server: Server;
  connections: number;
  close(): Promise<void>;
}

async function startUpstream(handler: RequestListener): Promise<Upstream> {
  const server = createServer(handler);
  const up: Upstream = {
    url: '',
    server,
    connections: 0,
    close: () => stop(server),
  };
  server.on('connection', () => {
    up.connections++;
  });
  up.url = `http://127.0.0.1:${await listen(server)}`;
  return up;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sends bytes as-is (no client-side normalization) and returns the raw response. */
async function raw(port: number, text: string): Promise<{ status: number; head: string; body: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.write(text);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const all = Buffer.concat(chunks).toString('latin1');
  const split = all.indexOf('\r\n\r\n');
  const head = all.slice(0, split);
  return { status: Number(head.split(' ')[1]), head, body: all.slice(split + 4) };
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const client = new Agent({ keepAliveTimeout: 1_000 });
afterAll(() => client.close());

// ---------------------------------------------------------------------------------------------

describe('proxy: passthrough', () => {
  let upstream: Upstream;
  let front: Front;
  let onArrive: (() => void) | undefined;
  const seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string }[] = [];

  beforeAll(async () => {
    upstream = await startUpstream(async (req, res) => {
      onArrive?.();
      const body = (await readAll(req)).toString('utf8');
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url?.includes('/chunked')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (let i = 0; i < 5; i++) res.write(`part-${i};`);
        res.end();
        return;
      }
      if (req.url?.includes('/empty')) {
        res.writeHead(204, { 'x-empty': 'yes' });
        res.end();
        return;
      }
      const answer = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(201, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer),
        'x-up': 'yes',
        'set-cookie': ['a=1', 'b=2'],
        // The gateway's request id wins over one the upstream sends.
        'x-request-id': 'from-upstream',
        connection: 'keep-alive, x-up-hop',
        'x-up-hop': 'dropped',
        'keep-alive': 'timeout=77',
      });
      res.end(req.method === 'HEAD' ? undefined : answer);
    });
    front = await startFront({
      echo: { upstream: `${upstream.url}/base`, principal: 'apikey:k1' },
      fwd: { upstream: upstream.url, forwardCredential: true },
      anon: { upstream: `${upstream.url}/` },
    });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });
  afterEach(() => {
    seen.length = 0;
    onArrive = undefined;
  });

  it('forwards method, path, query, body, status and headers', async () => {
    const res = await request(`${front.url}/echo/v1/predict?q=1&p=%2F..&x`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-123' },
      body: JSON.stringify({ text: 'hello' }),
      dispatcher: client,
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-up']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(res.headers['x-up-hop']).toBeUndefined();
    expect(res.headers['keep-alive']).not.toBe('timeout=77');
    const echoed = (await res.body.json()) as { method: string; url: string; body: string };
    expect(echoed.method).toBe('POST');
    expect(echoed.url).toBe('/base/v1/predict?q=1&p=%2F..&x');
    expect(JSON.parse(echoed.body)).toEqual({ text: 'hello' });
  });

  it('joins the upstream base path with the rest, raw', async () => {
    for (const [path, expected] of [
      ['/echo', '/base/'],
      ['/echo/', '/base/'],
      ['/echo/a%20b/c%3F?x=%zz', '/base/a%20b/c%3F?x=%zz'],
      ['/anon/x', '/x'],
    ]) {
      const res = await request(`${front.url}${path}`, { dispatcher: client });
      expect(res.statusCode).toBe(201);
      expect(((await res.body.json()) as { url: string }).url).toBe(expected);
    }
  });

  it('sets X-Forwarded-* and X-Modelgate-*, drops hop-by-hop, spoofed and credential headers', async () => {
    const res = await raw(
      front.port,
      [
        'GET /echo/h HTTP/1.1',
        'Host: gw.test:8080',
        'Connection: close, X-Hop, x-modelgate-principal',
        'X-Hop: secret',
        'Keep-Alive: timeout=99',
        'TE: trailers',
        'Proxy-Authorization: Basic eDp5',
        'Proxy-Connection: keep-alive',
        'Authorization: Bearer mgk_secret',
        'X-Modelgate-Principal: admin',
        'x-MODELGATE-principal: root',
        'X-Modelgate-Deployment: other',
        'X-Modelgate-Admin: true',
        'X-Forwarded-For: 203.0.113.9',
        'X-Forwarded-Host: evil.example',
        'X-Forwarded-Proto: https',
        'X-Custom: kept',
        '',
        '',
      ].join('\r\n'),
    );
    expect(res.status).toBe(201);
    const h = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('gw.test:8080');
    expect(h.host).toBe(new URL(upstream.url).host);
    expect(h['x-modelgate-deployment']).toBe('echo');
    expect(h['x-modelgate-principal']).toBe('apikey:k1');
    expect(h['x-request-id']).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(h['x-custom']).toBe('kept');
    for (const name of [
      'x-hop',
      'keep-alive',
      'te',
      'proxy-authorization',
      'proxy-connection',
      'authorization',
      'x-modelgate-admin',
    ]) {
      expect(h[name], name).toBeUndefined();
    }
    expect(h.connection).not.toMatch(/x-hop|modelgate/i);
  });

  it('forwards Authorization only when the deployment asks', async () => {
    const res = await request(`${front.url}/fwd/x`, {
      headers: { authorization: 'Bearer mgk_forwarded' },
      dispatcher: client,
    });
    const h = ((await res.body.json()) as { headers: Record<string, string> }).headers;
    expect(h.authorization).toBe('Bearer mgk_forwarded');
    expect(h['x-modelgate-principal']).toBeUndefined();
  });

  it('streams a chunked upload and a chunked download', async () => {
    const parts = Array.from({ length: 20 }, (_, i) => `chunk-${i}|`);
    const arrived = deferred();
    onArrive = () => arrived.resolve();
    // The rest of the body is only produced once the upstream has the request: proof of streaming.
    async function* upload() {
      yield parts[0] as string;
      await arrived.promise;
      yield* parts.slice(1);
    }
    const res = await request(`${front.url}/echo/chunked`, {
      method: 'PUT',
      body: Readable.from(upload()),
      dispatcher: client,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    expect(await res.body.text()).toBe('part-0;part-1;part-2;part-3;part-4;');
    expect(seen[0]?.headers?.['transfer-encoding']).toBe('chunked');
    expect(seen[0]?.headers?.['content-length']).toBeUndefined();
    expect(seen[0]?.body).toBe(parts.join(''));
  });

  it('handles Expect: 100-continue (node answers it; undici must not see it)', async () => {
    const body = 'x'.repeat(100_000);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(`${front.url}/echo/continue`, {
        method: 'POST',
        headers: { expect: '100-continue', 'content-length': body.length },
      });
      req.on('continue', () => req.end(body));
      req.on('response', resolve);
      req.on('error', reject);
    });
    expect(res.statusCode).toBe(201);
    const echoed = JSON.parse((await readAll(res)).toString()) as { body: string; headers: Record<string, string> };
    expect(echoed.body.length).toBe(body.length);
    expect(echoed.headers.expect).toBeUndefined();
  });

  it('passes HEAD and 204 answers without a body', async () => {
    const head = await request(`${front.url}/echo/h`, { method: 'HEAD', dispatcher: client });
    expect(head.statusCode).toBe(201);
    expect(await head.body.text()).toBe('');
    const empty = await request(`${front.url}/echo/empty`, { method: 'DELETE', dispatcher: client });
    expect(empty.statusCode).toBe(204);
    expect(empty.headers['x-empty']).toBe('yes');
    expect(await empty.body.text()).toBe('');
  });

  it('reuses upstream connections', async () => {
    const before = upstream.connections;
    for (let i = 0; i < 5; i++) {
      const res = await request(`${front.url}/echo/reuse`, { dispatcher: client });
      await res.body.dump();
    }
    expect(upstream.connections - before).toBeLessThanOrEqual(1);
  });
});

describe('proxy: routing never reaches another deployment', () => {
  let upstream: Upstream;
  let front: Front;
  const hits: string[] = [];

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    // Two deployments on the same upstream host: a traversal from a/ would land in b/.
    front = await startFront({ a: { upstream: `${upstream.url}/a` }, b: { upstream: `${upstream.url}/b` } });
  });
  afterAll(async () => {
    await front.close();
    await upstream.close();
  });

  it.each([
    ['/a/../b/x', 400],
    ['/a/%2e%2e/b/x', 400],
    ['/a/%2E%2e/b/x', 400],
    ['/a/.%2e/b/x', 400],
    ['/a%2F..%2Fb/x', 400],
    ['/a/..%2Fb/x', 400],
    ['/a/%252e%252e/b/x', 400],
    ['/a/..;/b/x', 400],
    ['/a\\..\\b/x', 400],
    ['//b/x', 400],
    ['/a//../b/x', 400],
    ['/A/x', 404],
    ['/%62/x', 404],
    ['http://127.0.0.1/b/x', 400],
  ])('%s → %i', async (target, status) => {
    const res = await raw(front.port, `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(status);
    const body = JSON.parse(res.body) as { error: { code: string } };
    expect(body.error.code).toBe(status === 400 ? 'PATH_INVALID' : 'DEPLOYMENT_NOT_FOUND');
    expect(hits).toEqual([]);
  });
});

describe('proxy: streaming', () => {
  it('delivers a Server-Sent Event while the upstream is still open', async () => {
    const release = deferred();
    let upstreamEnded = false;
    const upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      await release.promise;
      res.end('data: second\n\n');
      upstreamEnded = true;
    });
    const front = await startFront({ llm: { upstream: upstream.url } });
    try {
      const res = await request(`${front.url}/llm/v1/chat/completions`, { method: 'POST', dispatcher: client });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/event-stream');
      const events = res.body[Symbol.asyncIterator]();
      let received = '';
      while (!received.includes('\n\n')) {
        const next = await events.next();
        expect(next.done).toBe(false);
        received += (next.value as Buffer).toString();
      }
      // The first event arrived, and the upstream cannot have finished: it waits for us.
      expect(received).toBe('data: first\n\n');
      expect(upstreamEnded).toBe(false);
      release.resolve();
      for (let next = await events.next(); !next.done; next = await events.next()) {
        received += (next.value as Buffer).toString();
      }
      expect(received).toBe('data: first\n\ndata: second\n\n');
      expect(upstreamEnded).toBe(true);
    } finally {
      release.resolve();
      await front.close();
      await upstream.close();
    }
  });

  it('sends the headers of a stream before its first byte', async () => {
    const release = deferred();
    const upstream = await startUpstream(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      await release.promise;
      res.end('data: late\n\n');
    });
    const front = await startFront({ llm: { upstream: upstream.url } });
    try {
      // Resolves on headers: would hang if the gateway waited for the first body chunk.
      const res = await request(`${front.url}/llm/stream`, { dispatcher: client });
      expect(res.statusCode).toBe(200);
      release.resolve();
      expect(await res.body.text()).toBe('data: late\n\n');
    } finally {
      release.resolve();
      await front.close();
      await upstream.close();
    }
  });
});

describe('proxy: upstream failures', () => {
  it('answers 502 UPSTREAM_UNAVAILABLE for a refused upstream, also with a request body', async () => {
    const closed = createServer();
    const port = await listen(closed);
    await stop(closed);
    const front = await startFront({ dead: { upstream: `http://127.0.0.1:${port}` } });
    try {
      for (const method of ['GET', 'POST']) {
        const res = await request(`${front.url}/dead/x`, {
          method: method as 'GET' | 'POST',
          body: method === 'POST' ? 'payload' : undefined,
          dispatcher: client,
        });
        expect(res.statusCode).toBe(502);
        const body = (await res.body.json()) as { error: { code: string; request_id: string } };
        expect(body.error.code).toBe('UPSTREAM_UNAVAILABLE');
        expect(body.error.request_id).toBe(res.headers['x-request-id']);
      }
      // A large upload still streaming when the upstream is refused: the caller gets the 502.
      const big = await request(`${front.url}/dead/x`, {
        method: 'POST',
        body: Readable.from(
          (function* () {
            for (let i = 0; i < 256; i++) yield Buffer.alloc(64 * 1024, 1);
          })(),
        ),
        dispatcher: client,
      });
      expect(big.statusCode).toBe(502);
      expect(big.headers.connection).toBe('close');
      expect(((await big.body.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(front.errors.length).toBe(3);
    } finally {
      await front.close();
    }
  });

  it('answers 502 for an unresolvable upstream host', async () => {
    const front = await startFront({ nx: { upstream: 'http://no-such-host.invalid:9' } });
    try {
      const res = await request(`${front.url}/nx/x`, { dispatcher: client });
      expect(res.statusCode).toBe(502);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      await front.close();
    }
  });

  it('answers 502 when the upstream resets the connection before answering', async () => {
    const upstream = await startUpstream((req) => req.socket.destroy());
    const front = await startFront({ rst: { upstream: upstream.url } });
    try {
      const res = await request(`${front.url}/rst/x`, { dispatcher: client });
      expect(res.statusCode).toBe(502);
      await res.body.dump();
    } finally {
      await front.close();
      await upstream.close();
    }
  });

  it('answers 504 UPSTREAM_TIMEOUT for an upstream that never answers', async () => {
    const upstream = await startUpstream(() => {});
    const front = await startFront(
      { slow: { upstream: upstream.url } },
      { connectTimeoutMs: 1_000, headersTimeoutMs: 200 },
    );
    try {
      const res = await request(`${front.url}/slow/x`, { dispatcher: client });
      expect(res.statusCode).toBe(504);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_TIMEOUT');
    } finally {
      await front.close();
      await upstream.close();
    }
  });

  it('destroys the client response when the upstream fails after the headers', async () => {
    const upstream = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial', () => setTimeout(() => req.socket.destroy(), 20));
    });
    const front = await startFront({ cut: { upstream: upstream.url } });
    try {
      const res = await request(`${front.url}/cut/x`, { dispatcher: client });
      expect(res.statusCode).toBe(200);
      await expect(res.body.text()).rejects.toThrow();
      // The front server is still healthy.
      const again = await request(`${front.url}/cut-missing/x`, { dispatcher: client });
      expect(again.statusCode).toBe(404);
      await again.body.dump();
    } finally {
      await front.close();
      await upstream.close();
    }
  });
});

describe('proxy: a caller that leaves aborts the upstream request', () => {
  it('while waiting for the upstream headers', async () => {
    const arrived = deferred();
    const upstreamClosed = deferred();
    const upstream = await startUpstream((_req, res) => {
      res.on('close', () => upstreamClosed.resolve());
      arrived.resolve();
    });
    const front = await startFront({ hold: { upstream: upstream.url } });
    try {
      const req = httpRequest(`${front.url}/hold/x`);
      req.on('error', () => {});
      req.end();
      await arrived.promise;
      req.destroy();
      await upstreamClosed.promise;
    } finally {
      await front.close();
      await upstream.close();
    }
  });

  it('during an upload', async () => {
    const gotBytes = deferred();
    const upstreamClosed = deferred();
    const upstream = await startUpstream((req, res) => {
      req.once('data', () => gotBytes.resolve());
      req.on('error', () => {});
      res.on('close', () => upstreamClosed.resolve());
    });
    const front = await startFront({ up: { upstream: upstream.url } });
    try {
      const req = httpRequest(`${front.url}/up/x`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } });
      req.on('error', () => {});
      req.write('first bytes');
      await gotBytes.promise;
      req.destroy();
      await upstreamClosed.promise;
    } finally {
      await front.close();
      await upstream.close();
    }
  });

  it('during a download', async () => {
    const upstreamClosed = deferred();
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
      };
      res.on('drain', pump);
      res.on('close', () => upstreamClosed.resolve());
      pump();
    });
    const front = await startFront({ down: { upstream: upstream.url } });
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${front.url}/down/x`);
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
      res.on('error', () => {});
      await once(res, 'data');
      res.destroy();
      await upstreamClosed.promise;
    } finally {
      await front.close();
      await upstream.close();
    }
  });
});

describe('websocket', () => {
  let upstreamHttp: Server;
  let refused: Server;
  let wss: WebSocketServer;
  let upstreamUrl: string;
  let front: Front;
  const handshakes: IncomingMessage['headers'][] = [];

  beforeAll(async () => {
    upstreamHttp = createServer((_req, res) => res.end('not a websocket'));
    wss = new WebSocketServer({
      server: upstreamHttp,
      handleProtocols: (protocols) => protocols.values().next().value ?? false,
    });
    wss.on('connection', (ws, req) => {
      handshakes.push(req.headers);
      ws.send(`hello ${req.url}`);
      ws.on('message', (data: RawData, isBinary) => ws.send(data, { binary: isBinary }));
    });
    upstreamUrl = `http://127.0.0.1:${await listen(upstreamHttp)}`;
    refused = createServer();
    refused.on('upgrade', (_req, socket: Duplex) => {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nnope!');
    });
    const refusedUrl = `http://127.0.0.1:${await listen(refused)}`;
    const closed = createServer();
    const closedPort = await listen(closed);
    await stop(closed);
    front = await startFront({
      ws: { upstream: `${upstreamUrl}/base`, principal: 'user:alice' },
      refuses: { upstream: refusedUrl },
      dead: { upstream: `http://127.0.0.1:${closedPort}` },
    });
  });
  afterAll(async () => {
    await front.close();
    for (const c of wss.clients) c.terminate();
    wss.close();
    await stop(upstreamHttp);
    await stop(refused);
  });

  it('echoes through the proxy with the gateway headers and the negotiated subprotocol', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${front.port}/ws/socket?room=1`, ['chat', 'superchat'], {
      headers: { authorization: 'Bearer mgk_secret', 'x-modelgate-principal': 'admin' },
    });
    const messages: string[] = [];
    const gotTwo = deferred();
    ws.on('message', (data: RawData) => {
      messages.push(data.toString());
      if (messages.length === 2) gotTwo.resolve();
    });
    await once(ws, 'open');
    expect(ws.protocol).toBe('chat');
    ws.send('ping through the gateway');
    await gotTwo.promise;
    expect(messages).toEqual(['hello /base/socket?room=1', 'ping through the gateway']);

    const big = Buffer.alloc(2 * 1024 * 1024, 7);
    const echoed = once(ws, 'message');
    ws.send(big);
    const [data] = (await echoed) as [Buffer];
    expect(Buffer.compare(data, big)).toBe(0);

    const h = handshakes.at(-1) ?? {};
    expect(h['x-modelgate-deployment']).toBe('ws');
    expect(h['x-modelgate-principal']).toBe('user:alice');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h.authorization).toBeUndefined();
    ws.close();
    await once(ws, 'close');
  });

  it('relays an upstream refusal of the upgrade', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${front.port}/refuses/x`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(403);
    expect((await readAll(res)).toString()).toBe('nope!');
  });

  it('answers 502 with the JSON error when the upstream is down', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${front.port}/dead/x`);
    ws.on('error', () => {});
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
    expect(res.statusCode).toBe(502);
    const body = JSON.parse((await readAll(res)).toString()) as { error: { code: string } };
    expect(body.error.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('answers 504 when the upstream never completes the handshake', async () => {
    const silent = createServer();
    // Holds the handshake forever; ends its side when the gateway gives up.
    silent.on('upgrade', (_req, socket: Duplex) => socket.on('end', () => socket.destroy()));
    const silentUrl = `http://127.0.0.1:${await listen(silent)}`;
    const short = await startFront(
      { silent: { upstream: silentUrl } },
      { connectTimeoutMs: 1_000, headersTimeoutMs: 200 },
    );
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${short.port}/silent/x`);
      ws.on('error', () => {});
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, IncomingMessage];
      expect(res.statusCode).toBe(504);
      res.resume();
    } finally {
      await short.close();
      await stop(silent);
    }
  });

  it('closes the upstream socket when the client goes away', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${front.port}/ws/leave`);
    await once(ws, 'message');
    const upstreamSide = [...wss.clients].at(-1);
    expect(upstreamSide).toBeDefined();
    const closed = once(upstreamSide as WebSocket, 'close');
    ws.terminate();
    await closed;
  });
});

describe('createProxy', () => {
  it.each([
    [{ connectTimeoutMs: 0, headersTimeoutMs: 1 }],
    [{ connectTimeoutMs: 1, headersTimeoutMs: Number.NaN }],
    [{ connectTimeoutMs: 1, headersTimeoutMs: 1, bodyTimeoutMs: -1 }],
    [{ connectTimeoutMs: 1, headersTimeoutMs: 1, closeGraceMs: Number.POSITIVE_INFINITY }],
  ])('refuses bad options %j', (options) => {
    expect(() => createProxy(options)).toThrow(RangeError);
  });

  it('close() answers 503 SHUTTING_DOWN to a caller still waiting for headers', async () => {
    const arrived = deferred();
    const upstream = await startUpstream(() => arrived.resolve());
    const front = await startFront(
      { slow: { upstream: upstream.url } },
      { connectTimeoutMs: 1_000, headersTimeoutMs: 10_000, closeGraceMs: 50 },
    );
    try {
      const pending = request(`${front.url}/slow/x`, { dispatcher: client });
      await arrived.promise;
      await front.proxy.close();
      const res = await pending;
      expect(res.statusCode).toBe(503);
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('SHUTTING_DOWN');
    } finally {
      await front.close();
      await upstream.close();
    }
  });

  it('close() ends a stream that outlives the grace period', async () => {
    const upstreamClosed = deferred();
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: endless\n\n');
      res.on('close', () => upstreamClosed.resolve());
    });
    const front = await startFront(
      { sse: { upstream: upstream.url } },
      { connectTimeoutMs: 1_000, headersTimeoutMs: 1_000, closeGraceMs: 50 },
    );
    try {
      const res = await request(`${front.url}/sse/x`, { dispatcher: client });
      expect(res.statusCode).toBe(200);
      const reading = res.body.text().catch((err: unknown) => err);
      await front.proxy.close();
      await upstreamClosed.promise;
      expect(await reading).toBeInstanceOf(Error);
      expect(front.errors).toEqual([]);
    } finally {
      await front.close();
      await upstream.close();
    }
  });
});
