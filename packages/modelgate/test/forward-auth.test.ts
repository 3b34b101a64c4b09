import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { proxyConfig } from '../src/dataplane/forward-auth/generators.js';
import { allAuditRecords } from './helpers/audit.js';
import { call } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd } from './helpers/node-process.js';
import { hasBinary, type RunningProxy, startProxy } from './helpers/proxies.js';
import { recordingUpstream, type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * Forward-auth (issue 21): real nginx and real Caddy from Debian, running the configuration
 * `modelgate forward-auth` prints, in front of real upstreams, asking a real node. Every request
 * is decided by the gateway's own admission pipeline, so the table below must come out the same
 * through the gateway, through each proxy, and through the Traefik and Envoy contracts (called
 * with the request shapes those proxies send).
 */

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const HAVE_PROXIES = hasBinary('nginx') && hasBinary('caddy');
// CI installs both (.ci/run); a developer machine without them skips rather than fails.
const suite = HAVE_PROXIES || process.env.CI ? describe : describe.skip;

let t: TestNode;
let up: TestUpstream;
let ws: TestUpstream;
let big: { url: string; received: () => number; close: () => Promise<void> };
let sse: { url: string; finish: () => void; close: () => Promise<void> };
let nginx: RunningProxy;
let caddy: RunningProxy;
let keyedKey: string;
let fwdKey: string;
let otherKey: string;
let lockedKey: string;
let basicPassword: string;
let jwt: string;

/** An upstream that counts the bytes of each request body and answers with the count. */
async function countingUpstream() {
  let received = 0;
  const server: Server = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
    });
    req.on('end', () => {
      received = n;
      res.end(JSON.stringify({ bytes: n }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * An upstream that sends one server-sent event, then holds the stream open until `finish()`: a
 * proxy that buffered the stream would never deliver the first event before the end.
 */
async function eventUpstream() {
  const open = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write('data: first\n\n');
    open.add(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    finish: () => {
      for (const res of open) res.end('data: last\n\n');
      open.clear();
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

suite('forward-auth through real nginx and Caddy', () => {
  beforeAll(async () => {
    t = await startTestNode({ trusted_proxies: '127.0.0.1/32', failure_limit: '6', failure_window_s: '60' });
    [up, ws, big, sse] = await Promise.all([
      recordingUpstream('up'),
      websocketUpstream(),
      countingUpstream(),
      eventUpstream(),
    ]);
    basicPassword = (await manage(t, 'POST', '/secrets', { name: 'pw', generate: true })).body.value;
    keyedKey = (await deploy(t, { name: 'keyed', upstream: up.url, access: 'protected', api_keys: 1 })).api_keys[0].key;
    fwdKey = (
      await deploy(t, {
        name: 'fwd',
        upstream: up.url,
        access: 'protected',
        api_keys: 1,
        auth: { api_keys: true, forward_credential: true },
      })
    ).api_keys[0].key;
    otherKey = (await deploy(t, { name: 'other', upstream: up.url, access: 'protected', api_keys: 1 })).api_keys[0].key;
    lockedKey = (await deploy(t, { name: 'locked', upstream: up.url, access: 'protected', api_keys: 1 })).api_keys[0]
      .key;
    await deploy(t, { name: 'pub', upstream: up.url, access: 'public' });
    await deploy(t, { name: 'off', upstream: up.url, access: 'public', enabled: false });
    await deploy(t, { name: 'basic', upstream: up.url, access: 'protected', auth: { basic_secret: 'pw' } });
    await deploy(t, { name: 'chat', upstream: ws.url, access: 'protected', api_keys: 0 });
    await deploy(t, { name: 'big', upstream: big.url, access: 'public' });
    await deploy(t, { name: 'events', upstream: sse.url, access: 'public' });
    jwt = (await manage(t, 'GET', '/issue-jwt?deployment=keyed')).body.token;
    [nginx, caddy] = await Promise.all([
      // Keep-alive groups for the upstreams known now; `events` is left out, so it is dialled directly.
      startProxy('nginx', t.node.urls.inference, { upstreams: [up.url, ws.url, big.url] }),
      startProxy('caddy', t.node.urls.inference),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([nginx?.close(), caddy?.close()]);
    await Promise.all([up?.close(), ws?.close(), big?.close(), sse?.close()]);
    await t?.close();
  });

  /** The Traefik contract, as Traefik's ForwardAuth sends it: a GET with X-Forwarded-* and the original headers. */
  async function viaTraefik(method: string, path: string, headers: Record<string, string>, local: string) {
    const decision = await call(`${t.node.urls.inference}/_modelgate/auth/traefik`, {
      headers: {
        ...headers,
        'X-Forwarded-Method': method,
        'X-Forwarded-Proto': 'http',
        'X-Forwarded-Host': 'models.example',
        'X-Forwarded-Uri': path,
        'X-Forwarded-For': local,
      },
    });
    return decision;
  }

  /** The Envoy contract: the original method, the original path appended to the prefix, allowed headers. */
  async function viaEnvoy(method: string, path: string, headers: Record<string, string>, local: string) {
    return call(t.node.urls.inference, {
      rawPath: `/_modelgate/auth/envoy${path}`,
      method,
      headers: { ...headers, 'x-forwarded-for': local },
    });
  }

  /** A WebSocket handshake through the gateway: its admission is the same pipeline's. */
  function viaHandshake(path: string, headers: Record<string, string>, local: string) {
    return new Promise<{ status: number; json: any }>((resolve, reject) => {
      const u = new URL(t.node.urls.inference);
      const req = httpRequest({
        host: u.hostname,
        port: u.port,
        path,
        localAddress: local,
        agent: false,
        headers: {
          ...headers,
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'Sec-WebSocket-Version': '13',
        },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ status: res.statusCode ?? 0, json: undefined });
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c;
        });
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  type Row = [string, string, string, Record<string, string>, number, string | undefined];
  const rows = (): Row[] => [
    ['no credential', 'GET', '/keyed/predict', {}, 401, 'CREDENTIAL_MISSING'],
    ['its API key', 'GET', '/keyed/predict?x=1', { Authorization: `Bearer ${keyedKey}` }, 200, undefined],
    ['another deployment’s key', 'GET', '/keyed/predict', { Authorization: `Bearer ${otherKey}` }, 403, 'FORBIDDEN'],
    ['a malformed key', 'GET', '/keyed/predict', { Authorization: 'Bearer mgk_nope' }, 401, 'CREDENTIAL_MALFORMED'],
    ['the inference key', 'POST', '/keyed/predict', { Authorization: `Bearer ${t.keys.inference}` }, 200, undefined],
    ['the management key', 'GET', '/keyed/predict', { Authorization: `Bearer ${t.keys.management}` }, 403, 'FORBIDDEN'],
    ['a platform JWT for it', 'GET', '/keyed/predict', { Authorization: `Bearer ${jwt}` }, 200, undefined],
    ['that JWT elsewhere', 'GET', '/other/predict', { Authorization: `Bearer ${jwt}` }, 403, 'FORBIDDEN'],
    ['Basic, right', 'GET', '/basic/x', { Authorization: basic('modelgate', basicPassword) }, 200, undefined],
    ['Basic, wrong', 'GET', '/basic/x', { Authorization: basic('modelgate', 'nope') }, 401, 'CREDENTIAL_UNKNOWN'],
    ['a public deployment', 'GET', '/pub/anything', {}, 200, undefined],
    ['an unknown deployment', 'GET', '/missing/x', {}, 404, 'DEPLOYMENT_NOT_FOUND'],
    ['a disabled deployment', 'GET', '/off/x', {}, 503, 'DEPLOYMENT_DISABLED'],
    ['a dot segment', 'GET', '/keyed/../pub/x', { Authorization: `Bearer ${keyedKey}` }, 400, 'PATH_INVALID'],
  ];

  it('the same table of requests is decided alike by the gateway, a WebSocket handshake, nginx, Caddy, and the Traefik and Envoy contracts', async () => {
    const paths = {
      gateway: (m: string, p: string, h: Record<string, string>) =>
        call(t.node.urls.inference, { method: m, headers: h, localAddress: '127.0.0.11', rawPath: p }),
      nginx: (m: string, p: string, h: Record<string, string>) =>
        call(nginx.url, { method: m, headers: h, localAddress: '127.0.0.12', rawPath: p }),
      caddy: (m: string, p: string, h: Record<string, string>) =>
        call(caddy.url, { method: m, headers: h, localAddress: '127.0.0.13', rawPath: p }),
      traefik: (m: string, p: string, h: Record<string, string>) => viaTraefik(m, p, h, '127.0.0.14'),
      envoy: (m: string, p: string, h: Record<string, string>) => viaEnvoy(m, p, h, '127.0.0.15'),
      // The recording upstream is not a WebSocket server: an admitted handshake gets its 200.
      websocket: (_m: string, p: string, h: Record<string, string>) => viaHandshake(p, h, '127.0.0.16'),
    };
    const seen: string[] = [];
    const expected: string[] = [];
    for (const [name, method, path, headers, status, code] of rows()) {
      for (const [via, send] of Object.entries(paths)) {
        const res = await send(method, path, headers);
        seen.push(`${via}: ${name} → ${res.status} ${res.json?.error?.code ?? ''}`);
        expected.push(`${via}: ${name} → ${status} ${code ?? ''}`);
      }
    }
    expect(seen).toEqual(expected);
  });

  it.each(['nginx', 'caddy'] as const)(
    '%s forwards exactly the path the node decided on, without the credential',
    async (kind) => {
      const proxy = kind === 'nginx' ? nginx : caddy;
      const before = up.hits.length;
      const res = await call(`${proxy.url}/keyed/a%20b/c?q=1&r=%20`, {
        headers: {
          Authorization: `Bearer ${keyedKey}`,
          'X-Modelgate-Principal': 'admin',
          Cookie: 'modelgate_token=x; theme=dark',
        },
      });
      expect(res.status).toBe(200);
      const hit = up.hits[before]!;
      expect(hit.url).toBe('/a%20b/c?q=1&r=%20');
      expect(hit.headers.authorization).toBeUndefined();
      expect(hit.headers['x-modelgate-principal']).toMatch(/^api_key:/);
      expect(hit.headers['x-modelgate-deployment']).toBe('keyed');
      expect(hit.headers.cookie).toBe('theme=dark');
      expect(hit.headers['x-request-id']).toBe(res.headers['x-request-id'] ?? hit.headers['x-request-id']);
    },
  );

  it.each(['nginx', 'caddy'] as const)('%s forwards the credential where the deployment says to', async (kind) => {
    const proxy = kind === 'nginx' ? nginx : caddy;
    const before = up.hits.length;
    const res = await call(`${proxy.url}/fwd/x`, { headers: { Authorization: `Bearer ${fwdKey}` } });
    expect(res.status).toBe(200);
    expect(up.hits[before]?.headers.authorization).toBe(`Bearer ${fwdKey}`);
  });

  it.each(['nginx', 'caddy'] as const)(
    '%s: a body on a GET is refused before it reaches the upstream',
    async (kind) => {
      const proxy = kind === 'nginx' ? nginx : caddy;
      const before = up.hits.length;
      const res = await call(`${proxy.url}/keyed/x`, {
        headers: { Authorization: `Bearer ${keyedKey}`, 'Content-Length': '5' },
        body: 'GET x',
      });
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe('BODY_NOT_ALLOWED');
      expect(up.hits.length).toBe(before);
    },
  );

  it.each(['nginx', 'caddy'] as const)('%s: a deleted key is refused on the next request', async (kind) => {
    const proxy = kind === 'nginx' ? nginx : caddy;
    const created = await manage(t, 'POST', '/api-keys', { deployment: 'keyed' });
    expect(created.status).toBe(201);
    const { key, id } = created.body.api_keys[0] as { key: string; id: string };
    expect((await call(`${proxy.url}/keyed/x`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await manage(t, 'DELETE', `/api-keys/${id}`)).status).toBe(204);
    const after = await call(`${proxy.url}/keyed/x`, { headers: { Authorization: `Bearer ${key}` } });
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toMatch(/Bearer/);
  });

  it.each(['nginx', 'caddy'] as const)(
    '%s: the throttle and the audit log see the real client, not one it claims to be',
    async (kind) => {
      const proxy = kind === 'nginx' ? nginx : caddy;
      const client = kind === 'nginx' ? '127.0.0.21' : '127.0.0.22';
      const spoofed = { Authorization: 'Bearer mgk_wrong', 'X-Forwarded-For': '203.0.113.9' };
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        statuses.push((await call(`${proxy.url}/locked/x`, { headers: spoofed, localAddress: client })).status);
      }
      expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
      const locked = await call(`${proxy.url}/locked/x`, {
        headers: { Authorization: `Bearer ${lockedKey}` },
        localAddress: client,
      });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      expect(locked.json.error.code).toBe('THROTTLED');
      // Another client is not locked out by this one's failures.
      const other = await call(`${proxy.url}/locked/x`, {
        headers: { Authorization: `Bearer ${lockedKey}` },
        localAddress: '127.0.0.23',
      });
      expect(other.status).toBe(200);
      // Refusals are written in batches, off the hot path: wait (bounded) for this client's.
      let records = await allAuditRecords(t, 'action=deployment.invoke');
      const mine = () => records.filter((r) => r.target_name === 'locked' && r.client_address === client);
      for (let i = 0; i < 50 && mine().length < 6; i++) {
        await new Promise((r) => setTimeout(r, 100));
        records = await allAuditRecords(t, 'action=deployment.invoke');
      }
      expect(mine().length).toBeGreaterThanOrEqual(6);
      expect(records.some((r) => r.client_address === '203.0.113.9')).toBe(false);
    },
  );

  it('a decision endpoint refuses a caller that is not a trusted proxy', async () => {
    const res = await call(`${t.node.urls.inference}/_modelgate/auth/caddy`, {
      headers: { 'X-Forwarded-Method': 'GET', 'X-Forwarded-Uri': '/pub/x', 'X-Forwarded-For': '127.0.0.1' },
      localAddress: '127.0.0.2',
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('FORWARD_AUTH_UNTRUSTED');
    const nginxStyle = await call(`${t.node.urls.inference}/_modelgate/auth/nginx`, {
      headers: { 'X-Original-Method': 'GET', 'X-Original-URI': '/pub/x' },
      localAddress: '127.0.0.2',
    });
    expect(nginxStyle.status).toBe(403);
    expect(nginxStyle.headers['x-modelgate-status']).toBe('403');
  });

  it('a decision request that does not name the original request is refused (400)', async () => {
    const res = await call(`${t.node.urls.inference}/_modelgate/auth/caddy`, {});
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('FORWARD_AUTH_HEADERS_MISSING');
  });

  it.each(['nginx', 'caddy'] as const)('%s relays a WebSocket after the handshake was decided', async (kind) => {
    const proxy = kind === 'nginx' ? nginx : caddy;
    const key = (await manage(t, 'POST', '/api-keys', { deployment: 'chat' })).body.api_keys[0].key as string;
    const socket = new WebSocket(`${proxy.url.replace('http', 'ws')}/chat/socket`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.once('open', () => socket.send('hello'));
      socket.once('message', (data) => resolve(data.toString()));
      socket.once('error', reject);
    });
    socket.close();
    expect(echoed).toBe('echo:hello');
    const refused = new WebSocket(`${proxy.url.replace('http', 'ws')}/chat/socket`);
    const status = await new Promise<number>((resolve) => {
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.once('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it.each(['nginx', 'caddy'] as const)('%s delivers a server-sent event while the stream is open', async (kind) => {
    const proxy = kind === 'nginx' ? nginx : caddy;
    const res = await fetch(`${proxy.url}/events/stream`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('data: first');
    sse.finish();
    let rest = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toContain('data: last');
  });

  it.each(['nginx', 'caddy'] as const)(
    '%s answers a rate limit as the gateway does: 429 with Retry-After, RateLimit-Policy and RateLimit',
    async (kind) => {
      const proxy = kind === 'nginx' ? nginx : caddy;
      const name = `capped-${kind}`;
      const made = await deploy(t, {
        name,
        upstream: up.url,
        access: 'protected',
        api_keys: 1,
        rate_limit: { requests: 1, per: 'hour' },
      });
      const headers = { Authorization: `Bearer ${made.api_keys[0].key}` };
      expect((await call(`${proxy.url}/${name}/x`, { headers })).status).toBe(200);
      const over = await call(`${proxy.url}/${name}/x`, { headers });
      expect(over.status).toBe(429);
      expect(over.json.error.code).toBe('RATE_LIMITED');
      const retry = Number(over.headers['retry-after']);
      expect(retry).toBeGreaterThan(0);
      expect(over.headers['ratelimit-policy']).toBe('"credential";q=1;w=3600');
      expect(over.headers.ratelimit).toBe(`"credential";r=0;t=${retry}`);
    },
  );

  it.each(['nginx', 'caddy'] as const)('%s streams a large body to the upstream', async (kind) => {
    const proxy = kind === 'nginx' ? nginx : caddy;
    const size = 32 * 1024 * 1024;
    const res = await fetch(`${proxy.url}/big/upload`, { method: 'POST', body: Buffer.alloc(size, 7) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: size });
    expect(big.received()).toBe(size);
  });
});

suite('forward-auth decisions cached by nginx (opt-in)', () => {
  let cached: TestNode;
  let plain: TestNode;
  let upstream: TestUpstream;
  let cachingInFrontOfCached: RunningProxy;
  let cachingInFrontOfPlain: RunningProxy;

  beforeAll(async () => {
    upstream = await recordingUpstream('cached');
    [cached, plain] = await Promise.all([
      startTestNode({ trusted_proxies: '127.0.0.1/32', forward_auth_cache_s: '2' }),
      startTestNode({ trusted_proxies: '127.0.0.1/32' }),
    ]);
    for (const node of [cached, plain]) await deploy(node, { name: 'm', upstream: upstream.url, access: 'protected' });
    [cachingInFrontOfCached, cachingInFrontOfPlain] = await Promise.all([
      startProxy('nginx', cached.node.urls.inference, { cache: true }),
      startProxy('nginx', plain.node.urls.inference, { cache: true }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([cachingInFrontOfCached?.close(), cachingInFrontOfPlain?.close()]);
    await Promise.all([cached?.close(), plain?.close(), upstream?.close()]);
  });

  async function freshKey(node: TestNode): Promise<{ key: string; id: string }> {
    const made = await manage(node, 'POST', '/api-keys', { deployment: 'm' });
    expect(made.status).toBe(201);
    return made.body.api_keys[0];
  }

  it('with forward_auth_cache_s = 2, a deleted key passes from the cache for at most 2 s, then is refused', async () => {
    const { key, id } = await freshKey(cached);
    const url = `${cachingInFrontOfCached.url}/m/x`;
    const headers = { Authorization: `Bearer ${key}` };
    expect((await call(url, { headers })).status).toBe(200);
    expect((await manage(cached, 'DELETE', `/api-keys/${id}`)).status).toBe(204);
    // Still the cached decision: the documented price of the opt-in.
    expect((await call(url, { headers })).status).toBe(200);
    // Past the bound (2 s, nginx counts whole seconds), the node is asked again and refuses.
    await new Promise((r) => setTimeout(r, 3200));
    expect((await call(url, { headers })).status).toBe(401);
  });

  it('without the node’s opt-in, a caching nginx still asks every time: a deleted key is refused at once', async () => {
    const { key, id } = await freshKey(plain);
    const url = `${cachingInFrontOfPlain.url}/m/x`;
    const headers = { Authorization: `Bearer ${key}` };
    expect((await call(url, { headers })).status).toBe(200);
    expect((await manage(plain, 'DELETE', `/api-keys/${id}`)).status).toBe(204);
    expect((await call(url, { headers })).status).toBe(401);
  });
});

describe('forward-auth configurations', () => {
  it('the CLI prints each proxy’s configuration; Traefik and Envoy need the deployment and its upstream', async () => {
    const printed = await runCliToEnd(['forward-auth', 'nginx', '--listen', '127.0.0.1:8088']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('auth_request /_modelgate_decision;');
    expect(printed.stdout).toContain('server 127.0.0.1:8080;');
    const refused = await runCliToEnd(['forward-auth', 'envoy', '--listen', '127.0.0.1:8088']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--deployment NAME and --upstream URL');
    const bad = await runCliToEnd(['forward-auth', 'caddy', '--listen', 'nowhere']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--listen must be HOST:PORT');
  });

  it('docs/forward-auth.md shows each generator’s output as it is today', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../../docs/forward-auth.md'), 'utf8');
    const node = 'http://127.0.0.1:8080';
    const churn = { deployment: 'churn', upstream: 'http://10.0.0.5:9000', node };
    expect(doc).toContain(proxyConfig('nginx', { listen: '127.0.0.1:8088', node }));
    expect(doc).toContain(proxyConfig('nginx', { listen: '127.0.0.1:8088', node, cache: true }));
    expect(doc).toContain(proxyConfig('caddy', { listen: '127.0.0.1:8088', node }));
    expect(doc).toContain(proxyConfig('traefik', { listen: ':8088', ...churn }));
    expect(doc).toContain(proxyConfig('envoy', { listen: '0.0.0.0:8088', ...churn }));
  });

  it('the Traefik and Envoy configurations are YAML with the decision endpoint and the upstream', () => {
    const options = {
      listen: '127.0.0.1:8088',
      node: 'http://127.0.0.1:8080',
      deployment: 'churn',
      upstream: 'http://10.0.0.5:9000',
    };
    const traefik = parseYaml(proxyConfig('traefik', options));
    expect(traefik.http.middlewares['modelgate-decision'].forwardAuth.address).toBe(
      'http://127.0.0.1:8080/_modelgate/auth/traefik',
    );
    expect(traefik.http.services['modelgate-churn'].loadBalancer.servers[0].url).toBe('http://10.0.0.5:9000');
    const envoy = parseYaml(proxyConfig('envoy', options));
    const listener = envoy.static_resources.listeners[0];
    const manager = listener.filter_chains[0].filters[0].typed_config;
    expect(manager.http_filters[0].typed_config.http_service.path_prefix).toBe('/_modelgate/auth/envoy');
    expect(manager.route_config.virtual_hosts[0].routes[0]).toMatchObject({
      match: { prefix: '/churn/' },
      route: { cluster: 'deployment', prefix_rewrite: '/' },
    });
    // A refusal reaches the client with what it says: a challenge, when to retry, the rate limit.
    const toClient = manager.http_filters[0].typed_config.http_service.authorization_response.allowed_client_headers;
    expect(toClient.patterns).toEqual(
      expect.arrayContaining(
        ['www-authenticate', 'retry-after', 'ratelimit-policy', 'ratelimit'].map((exact) => ({ exact })),
      ),
    );
  });
});
