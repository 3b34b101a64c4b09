import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamRequestHeaders } from '../src/gateway/headers.js';
import { splitInferencePath } from '../src/gateway/path.js';
import { createProxy } from '../src/gateway/proxy.js';
import { sendError } from '../src/server/respond.js';

// 1 GiB each way through a front server built from the gateway modules, all in this process:
// the client, the front server and the upstream. The peak RSS growth bounds the whole chain,
// so it bounds the front server too.

const GiB = 1024 ** 3;
const CHUNK = Buffer.alloc(256 * 1024, 0x61);
const RSS_BUDGET = 150 * 1024 * 1024;
const TIMEOUT_MS = 600_000;

/** `total` bytes generated on demand, one shared chunk at a time (nothing held). */
function generated(total: number): Readable {
  let left = total;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= chunk.length;
      this.push(chunk);
    },
  });
}

async function count(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

/** Samples RSS until stopped; returns the peak growth over the level when it started. */
function rssMonitor(): { stop(): { baseline: number; peak: number; growth: number } } {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { baseline, peak, growth: peak - baseline };
    },
  };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('proxy: 1 GiB both ways with bounded memory', () => {
  let upstream: Server;
  let front: Server;
  let frontPort: number;
  const proxy = createProxy({ connectTimeoutMs: 2_000, headersTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });

  beforeAll(async () => {
    upstream = createServer(async (req, res) => {
      if (req.url === '/upload') {
        const bytes = await count(req);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': GiB });
      await pipeline(generated(GiB), res);
    });
    const upstreamUrl = `http://127.0.0.1:${await listen(upstream)}`;
    front = createServer((req, res) => {
      const split = splitInferencePath(req.url ?? '/');
      if (!split.ok) return sendError(res, split.code, 'large');
      const headers = upstreamRequestHeaders(req.headers, {
        clientIp: req.socket.remoteAddress ?? '',
        proto: 'http',
        host: req.headers.host ?? '',
        deployment: split.deployment,
        requestId: 'large',
        forwardCredential: false,
        upstreamHost: new URL(upstreamUrl).host,
      });
      void proxy.forward(req, res, { upstream: upstreamUrl, path: split.rest, headers, requestId: 'large' });
    });
    frontPort = await listen(front);
  });

  afterAll(async () => {
    front.closeAllConnections();
    upstream.closeAllConnections();
    await new Promise((r) => front.close(r));
    await new Promise((r) => upstream.close(r));
    await proxy.close();
  });

  it(
    'uploads 1 GiB (chunked, generated on the fly) to a counting upstream',
    async () => {
      const monitor = rssMonitor();
      const started = performance.now();
      const req = httpRequest({
        host: '127.0.0.1',
        port: frontPort,
        method: 'POST',
        path: '/big/upload',
        headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      });
      const response = once(req, 'response') as Promise<[IncomingMessage]>;
      await pipeline(generated(GiB), req);
      const [res] = await response;
      const body = JSON.parse((await readText(res)) || '{}') as { bytes?: number };
      const seconds = (performance.now() - started) / 1000;
      const rss = monitor.stop();
      console.log(
        `upload 1 GiB: ${seconds.toFixed(1)} s, ${(1024 / seconds).toFixed(0)} MiB/s, ` +
          `rss ${mb(rss.baseline)} → peak ${mb(rss.peak)} (+${mb(rss.growth)})`,
      );
      expect(res.statusCode).toBe(200);
      expect(body.bytes).toBe(GiB);
      expect(rss.growth).toBeLessThan(RSS_BUDGET);
    },
    TIMEOUT_MS,
  );

  it(
    'downloads 1 GiB generated by the upstream, counted by the client',
    async () => {
      const monitor = rssMonitor();
      const started = performance.now();
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: frontPort, path: '/big/download' });
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-length']).toBe(String(GiB));
      const bytes = await count(res);
      const seconds = (performance.now() - started) / 1000;
      const rss = monitor.stop();
      console.log(
        `download 1 GiB: ${seconds.toFixed(1)} s, ${(1024 / seconds).toFixed(0)} MiB/s, ` +
          `rss ${mb(rss.baseline)} → peak ${mb(rss.peak)} (+${mb(rss.growth)})`,
      );
      expect(bytes).toBe(GiB);
      expect(rss.growth).toBeLessThan(RSS_BUDGET);
    },
    TIMEOUT_MS,
  );
});

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
