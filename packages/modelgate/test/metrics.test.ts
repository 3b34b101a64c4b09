import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createReadiness } from '../src/http/health.js';
import { createMetricsRegistry, metricsHandler, NodeMetrics } from '../src/node/metrics.js';
import { call, rawRequest } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { type PromSample, sampleValue, scrape } from './helpers/prometheus.js';
import { closedPortUrl, recordingUpstream, type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

const OUTCOMES = ['allowed', 'denied', 'not_found', 'invalid', 'unavailable', 'upstream_error', 'aborted', 'error'];

/** An upstream whose `/hold` answers a head and one chunk, then waits until `release()`. */
async function holdingUpstream() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/hold')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      held.push(res);
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release: () => {
      for (const res of held.splice(0)) res.end('data: last\n\n');
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('/metrics after traffic (X6)', () => {
  let t: TestNode;
  let upstream: TestUpstream;
  let holding: Awaited<ReturnType<typeof holdingUpstream>>;
  let sockets: TestUpstream;
  let socketKey: string;
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  let apiKey: string;
  let otherKey: string;
  /** Every credential, path and query string sent: no label value may be or contain one. */
  const sent = new Set<string>();

  async function get(path: string, authorization?: string): Promise<number> {
    sent.add(path);
    const q = path.indexOf('?');
    if (q >= 0) sent.add(path.slice(q));
    const res = await fetch(`${t.node.urls.inference}${path}`, { headers: authorization ? { authorization } : {} });
    await res.arrayBuffer();
    return res.status;
  }

  beforeAll(async () => {
    upstream = await recordingUpstream('metrics');
    holding = await holdingUpstream();
    t = await startTestNode({ failure_limit: '1000' });
    await manage(t, 'POST', '/secrets', { name: 'metrics-pw', value: password });
    const guarded = await deploy(t, {
      name: 'guarded',
      upstream: upstream.url,
      access: 'protected',
      auth: { basic_secret: 'metrics-pw', api_keys: true },
      api_keys: 1,
    });
    apiKey = guarded.api_keys[0].key;
    otherKey = (await deploy(t, { name: 'other', upstream: upstream.url, access: 'protected', api_keys: 1 }))
      .api_keys[0].key;
    await deploy(t, { name: 'open', upstream: upstream.url, access: 'public' });
    await deploy(t, { name: 'down', upstream: await closedPortUrl(), access: 'public' });
    await deploy(t, { name: 'stream', upstream: holding.url, access: 'public' });
    sockets = await websocketUpstream();
    socketKey = (await deploy(t, { name: 'sockets', upstream: sockets.url, access: 'protected', api_keys: 1 }))
      .api_keys[0].key;
    for (const s of [apiKey, otherKey, socketKey, password, t.keys.inference, t.keys.management, t.keys.api])
      sent.add(s);
  });

  afterAll(async () => {
    await t?.close();
    await upstream?.close();
    await holding?.close();
    await sockets?.close();
  });

  it('counts requests per deployment, status class and outcome; denials by reason; credentials by kind', async () => {
    const basic = `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;
    sent.add(basic.slice(6));
    for (let i = 0; i < 3; i++) expect(await get('/guarded/predict', `Bearer ${apiKey}`)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await get('/guarded/predict', basic)).toBe(200);
    expect(await get('/guarded/predict', `Bearer ${t.keys.inference}`)).toBe(200);
    for (let i = 0; i < 2; i++) expect(await get('/open/predict')).toBe(200);
    for (let i = 0; i < 2; i++) expect(await get('/guarded/predict')).toBe(401);
    expect(await get('/guarded/predict', 'Bearer mgk_notakey')).toBe(401);
    expect(await get('/guarded/predict', `Bearer ${otherKey}`)).toBe(403);
    for (let i = 0; i < 2; i++) expect(await get('/nowhere/predict')).toBe(404);
    expect((await rawRequest(t.node.urls.inference, 'GET /guarded/../other/x HTTP/1.1', [])).status).toBe(400);
    expect(await get('/down/predict')).toBe(502);

    const { samples } = await scrape(t.node.urls.metrics);
    const requests = (deployment: string, status_class: string, outcome: string) =>
      sampleValue(samples, 'modelgate_requests_total', { deployment, status_class, outcome });
    expect(requests('guarded', '2xx', 'allowed')).toBe(6);
    expect(requests('guarded', '4xx', 'denied')).toBe(4);
    expect(requests('open', '2xx', 'allowed')).toBe(2);
    expect(requests('_unknown', '4xx', 'not_found')).toBe(2);
    expect(requests('_unknown', '4xx', 'invalid')).toBe(1);
    expect(requests('down', '5xx', 'upstream_error')).toBe(1);
    // Nothing else was counted.
    const total = samples.filter((s) => s.name === 'modelgate_requests_total').reduce((sum, s) => sum + s.value, 0);
    expect(total).toBe(6 + 4 + 2 + 2 + 1 + 1);
    expect(
      samples.filter((s) => s.name === 'modelgate_requests_total').every((s) => OUTCOMES.includes(s.labels.outcome!)),
    ).toBe(true);

    const denials = (deployment: string, reason: string) =>
      sampleValue(samples, 'modelgate_auth_denials_total', { deployment, reason });
    expect(denials('guarded', 'missing')).toBe(2);
    expect(denials('guarded', 'malformed')).toBe(1);
    expect(denials('guarded', 'forbidden')).toBe(1);

    const credentials = (deployment: string, credential_kind: string) =>
      sampleValue(samples, 'modelgate_credential_requests_total', { deployment, credential_kind });
    expect(credentials('guarded', 'api_key')).toBe(3);
    expect(credentials('guarded', 'basic')).toBe(2);
    expect(credentials('guarded', 'inference_key')).toBe(1);
    expect(credentials('open', 'none')).toBe(2);
    expect(credentials('down', 'none')).toBe(1);

    const count = (name: string, deployment: string) => sampleValue(samples, `${name}_count`, { deployment });
    expect(count('modelgate_request_duration_seconds', 'guarded')).toBe(10);
    expect(count('modelgate_request_duration_seconds', '_unknown')).toBe(3);
    expect(count('modelgate_upstream_duration_seconds', 'guarded')).toBe(6);
    // The upstream never answered: no upstream time.
    expect(count('modelgate_upstream_duration_seconds', 'down')).toBe(0);
    const inf = sampleValue(samples, 'modelgate_request_duration_seconds_bucket', {
      deployment: 'guarded',
      le: '+Inf',
    });
    expect(inf).toBe(10);
    expect(sampleValue(samples, 'modelgate_request_duration_seconds_sum', { deployment: 'guarded' })).toBeGreaterThan(
      0,
    );
  });

  it('docs/grafana-dashboard.json is valid JSON and queries only series and labels a scrape has', async () => {
    const dashboard = JSON.parse(
      readFileSync(join(import.meta.dirname, '../../../docs/grafana-dashboard.json'), 'utf8'),
    );
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
      p.targets.map((x) => x.expr),
    );
    expect(exprs.length).toBeGreaterThan(10);
    // One admitted and one denied request, so every family has a series.
    expect(await get('/guarded/predict', `Bearer ${apiKey}`)).toBe(200);
    expect(await get('/guarded/predict')).toBe(401);
    const { samples } = await scrape(t.node.urls.metrics);
    const names = new Set(samples.map((s) => s.name));
    const labels = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    const queried = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b((?:modelgate|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!)),
    );
    expect([...queried].filter((name) => !names.has(name))).toEqual([]);
    for (const name of [
      'modelgate_requests_total',
      'modelgate_request_duration_seconds_bucket',
      'modelgate_auth_denials_total',
    ]) {
      expect(queried.has(name), name).toBe(true);
    }
    // Every label a panel groups or filters by, apart from Prometheus' own `job` and `instance`.
    const used = new Set(
      exprs.flatMap((e) => [
        ...[...e.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
        ...[...e.matchAll(/([a-z_]+)=~?"/g)].map((m) => m[1]!),
      ]),
    );
    expect([...used].filter((l) => !labels.has(l) && l !== 'job' && l !== 'instance')).toEqual([]);
  });

  it('standard unprefixed process_* and nodejs_* series', async () => {
    const { samples } = await scrape(t.node.urls.metrics);
    const names = new Set(samples.map((s) => s.name));
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
    expect([...names].filter((n) => n.startsWith('modelgate_process') || n.startsWith('modelgate_nodejs'))).toEqual([]);
  });

  it('open streams and active connections are reported while a streamed answer is in flight', async () => {
    const res = await fetch(`${t.node.urls.inference}/stream/hold`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('first');
    const during = (await scrape(t.node.urls.metrics)).samples;
    expect(sampleValue(during, 'modelgate_open_streams', { kind: 'http' })).toBe(1);
    expect(sampleValue(during, 'modelgate_open_streams', { kind: 'websocket' })).toBe(0);
    expect(sampleValue(during, 'modelgate_active_connections')).toBeGreaterThanOrEqual(1);

    holding.release();
    while (!(await reader.read()).done) {
      // Drain to the end of the stream.
    }
    const after = (await scrape(t.node.urls.metrics)).samples;
    expect(sampleValue(after, 'modelgate_open_streams', { kind: 'http' })).toBe(0);
    expect(
      sampleValue(after, 'modelgate_requests_total', { deployment: 'stream', status_class: '2xx', outcome: 'allowed' }),
    ).toBe(1);
  });

  it('no label value is a credential, a raw path or a query string', async () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    sent.add(jwt);
    const hostile = [
      `/guarded/${apiKey}?token=${apiKey}`,
      `/${apiKey}/predict?key=${t.keys.inference}`,
      `/nowhere/${t.keys.inference}/x?api_key=${otherKey}`,
      `/open/${jwt}?q=${encodeURIComponent(password)}`,
      '/open/predict?deployment=evil&outcome=x',
      `/${'a'.repeat(70)}/x`,
      '/guarded/%2e%2e/other',
      '/_metrics/x',
      '/UPPER/x',
    ];
    for (const path of hostile) {
      await get(path, `Bearer ${apiKey}`);
      await get(path, `Bearer ${t.keys.inference}`);
      await get(path);
    }
    const { samples } = await scrape(t.node.urls.metrics);
    const known = new Set(['guarded', 'other', 'open', 'down', 'stream', '_unknown']);
    const problems: string[] = [];
    const check = (s: PromSample) => {
      for (const [label, value] of Object.entries(s.labels)) {
        if (label === 'deployment' && !known.has(value)) problems.push(`${s.name} deployment=${value}`);
        if (value.includes('/') && label !== 'version') problems.push(`${s.name} ${label} has a path: ${value}`);
        if (value.includes('?') || value.includes('=')) problems.push(`${s.name} ${label} has a query: ${value}`);
        for (const thing of sent) {
          if (thing.length >= 6 && value.includes(thing)) problems.push(`${s.name} ${label} carries something sent`);
        }
        if (/mg[a-z]{1,3}_/.test(value) || value.includes('eyJ'))
          problems.push(`${s.name} ${label} looks like a credential`);
      }
    };
    samples.forEach(check);
    expect(problems).toEqual([]);
    // The deployment label saw every kind of request above: it is bounded by the known names.
    const deploymentsSeen = new Set(samples.flatMap((s) => (s.labels.deployment ? [s.labels.deployment] : [])));
    expect([...deploymentsSeen].every((d) => known.has(d))).toBe(true);
    expect(deploymentsSeen.has('_unknown')).toBe(true);
  });

  it('a WebSocket handshake is counted like any request: 101 once its relay ended, a refusal by its outcome', async () => {
    const url = `${t.node.urls.inference.replace('http', 'ws')}/sockets/chat`;
    const relay = new WebSocket(url, { headers: { authorization: `Bearer ${socketKey}` } });
    const reply = await new Promise<string>((resolve, reject) => {
      relay.on('open', () => relay.send('hi'));
      relay.on('message', (data) => resolve(data.toString()));
      relay.on('error', reject);
    });
    expect(reply).toBe('echo:hi');
    relay.close();
    const refused = new WebSocket(url);
    const status = await new Promise<number>((resolve, reject) => {
      refused.on('unexpected-response', (_req, res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      refused.on('error', reject);
    });
    expect(status).toBe(401);
    const requests = (samples: PromSample[], status_class: string, outcome: string) =>
      sampleValue(samples, 'modelgate_requests_total', { deployment: 'sockets', status_class, outcome });
    // Each is counted once the gateway's side of its connection has closed: scrape until both are.
    let samples = (await scrape(t.node.urls.metrics)).samples;
    while (requests(samples, '1xx', 'allowed') + requests(samples, '4xx', 'denied') < 2) {
      await new Promise((r) => setTimeout(r, 20));
      samples = (await scrape(t.node.urls.metrics)).samples;
    }
    expect(requests(samples, '1xx', 'allowed')).toBe(1);
    expect(requests(samples, '4xx', 'denied')).toBe(1);
    expect(
      sampleValue(samples, 'modelgate_credential_requests_total', {
        deployment: 'sockets',
        credential_kind: 'api_key',
      }),
    ).toBe(1);
    expect(sampleValue(samples, 'modelgate_auth_denials_total', { deployment: 'sockets', reason: 'missing' })).toBe(1);
    expect(sampleValue(samples, 'modelgate_upstream_duration_seconds_count', { deployment: 'sockets' })).toBe(1);
    expect(sampleValue(samples, 'modelgate_open_streams', { kind: 'websocket' })).toBe(0);
  });

  it('a deleted deployment’s series disappear (labels stay bounded by live deployments)', async () => {
    expect(await get('/other/predict', `Bearer ${otherKey}`)).toBe(200);
    const before = (await scrape(t.node.urls.metrics)).samples;
    expect(before.some((s) => s.labels.deployment === 'other')).toBe(true);
    expect((await manage(t, 'DELETE', '/deployments/other')).status).toBe(204);
    const after = (await scrape(t.node.urls.metrics)).samples;
    expect(after.filter((s) => s.labels.deployment === 'other')).toEqual([]);
  });
});

describe('the metrics listener', () => {
  it('a scrape that fails is a 503 with the registry body and a line under request_id', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const metrics = new NodeMetrics(createMetricsRegistry());
    metrics.addSource(() => Promise.reject(new Error('a worker is gone')));
    const readiness = createReadiness({ ping: async () => {}, isShuttingDown: () => false });
    const server = createServer(metricsHandler(metrics, readiness, log));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const res = await fetch(`${url}/metrics`, { headers: { 'x-request-id': 'scrape-1' } });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: 'NOT_READY', request_id: 'scrape-1' } });
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        expect.objectContaining({ listener: 'metrics', request_id: 'scrape-1', msg: 'metrics scrape failed' }),
      ]);
    } finally {
      server.close();
    }
  });
});

describe('/metrics of a node with workers = 2 reports the whole node', () => {
  let node: NodeProcess;
  let upstream: TestUpstream;
  const N = 12;

  beforeAll(async () => {
    upstream = await recordingUpstream('metrics-workers');
    node = await startNodeProcess(['--workers', '2']);
    const management = JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8')).management.key;
    const made = await call(`${node.urls.management}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${management}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'w', upstream: upstream.url, access: 'public' }),
    });
    expect(made.status, made.text).toBe(201);
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
  });

  it('the requests every worker served add up in one scrape of the primary', async () => {
    for (let i = 0; i < N; i++) {
      // A fresh connection each: node:cluster hands them to the workers in turn.
      const res = await call(`${node.urls.inference}/w/predict`, { headers: { 'x-request-id': `mw-${i}` } });
      expect(res.status).toBe(200);
    }
    expect((await call(`${node.urls.inference}/nowhere/x`)).status).toBe(404);
    const lines = await Promise.all(
      Array.from({ length: N }, (_, i) => node.waitFor(new RegExp(`"request_id":"mw-${i}".*"msg":"request"`))),
    );
    const pids = new Set(lines.map((line) => (JSON.parse(line) as { pid: number }).pid));
    expect(pids.size).toBe(2);

    const { samples } = await scrape(node.urls.metrics);
    expect(
      sampleValue(samples, 'modelgate_requests_total', { deployment: 'w', status_class: '2xx', outcome: 'allowed' }),
    ).toBe(N);
    expect(
      sampleValue(samples, 'modelgate_requests_total', {
        deployment: '_unknown',
        status_class: '4xx',
        outcome: 'not_found',
      }),
    ).toBe(1);
    expect(sampleValue(samples, 'modelgate_request_duration_seconds_count', { deployment: 'w' })).toBe(N);
    expect(
      sampleValue(samples, 'modelgate_credential_requests_total', { deployment: 'w', credential_kind: 'none' }),
    ).toBe(N);
    // Process metrics of the primary and both workers, summed; the node's start time kept.
    expect(sampleValue(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sampleValue(samples, 'process_start_time_seconds')).toBeGreaterThan(0);
    // Each series appears once: aggregated, not listed per process.
    const keys = samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
