import { existsSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EPHEMERAL_PORTS, type NodeProcess, runCli, startNodeProcess } from './helpers/node-process.js';
import { adminQuery, createScratchDatabase } from './helpers/postgres.js';

type Listener = keyof NodeProcess['urls'];
const LISTENERS: readonly Listener[] = ['inference', 'management', 'metrics'];

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** Collects a child's stderr on its own (the helper merges it with stdout). */
function stderrOf(proc: { child: NodeProcess['child'] }): () => string {
  let text = '';
  proc.child.stderr?.on('data', (d: Buffer) => {
    text += d.toString('utf8');
  });
  return () => text;
}

describe('modelgate start (SQLite, default config but free ports)', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNodeProcess();
  });
  afterAll(async () => {
    await node?.stop();
  });

  it.each(LISTENERS)('answers /_health/live and /_health/ready on the %s listener', async (listener) => {
    const live = await get(`${node.urls[listener]}/_health/live`);
    expect(live.status).toBe(200);
    expect(live.json()).toEqual({ status: 'live' });
    const ready = await get(`${node.urls[listener]}/_health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
    expect(ready.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('binds all three listeners on 127.0.0.1, on distinct ports', () => {
    const ports = LISTENERS.map((l) => {
      const url = new URL(node.urls[l]);
      expect(url.hostname).toBe('127.0.0.1');
      expect(url.protocol).toBe('http:');
      return url.port;
    });
    expect(new Set(ports).size).toBe(3);
  });

  it('serves Prometheus text with process metrics at /metrics on the metrics listener', async () => {
    const res = await get(`${node.urls.metrics}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    // The standard unprefixed names, so stock Node.js dashboards work.
    expect(res.text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(res.text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(res.text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(res.text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(res.text).not.toMatch(/^modelgate_process_/m);
  });

  it('serves the OpenAPI 3.1 document of the management API', async () => {
    const res = await get(`${node.urls.management}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.1.0');
    expect((doc.info as { title: string }).title).toMatch(/modelgate/);
  });

  it('answers unknown paths with the JSON error body, never 500', async () => {
    const inference = await get(`${node.urls.inference}/no-such-deployment/predict`);
    expect(inference.status).toBe(404);
    expect((inference.json().error as { code: string }).code).toBe('DEPLOYMENT_NOT_FOUND');
    const management = await get(`${node.urls.management}/api/v1/nothing-here`);
    expect(management.status).toBe(404);
    expect((management.json().error as { code: string }).code).toBe('ROUTE_NOT_FOUND');
    const metrics = await get(`${node.urls.metrics}/nothing`);
    expect(metrics.status).toBe(404);
    expect((metrics.json().error as { code: string }).code).toBe('ROUTE_NOT_FOUND');
  });

  it.each(LISTENERS)('sets x-request-id on every %s response and echoes a sane caller id', async (listener) => {
    const paths = ['/_health/live', '/_health/ready', '/definitely/not/here'];
    const ids = new Set<string>();
    for (const path of paths) {
      const res = await get(`${node.urls[listener]}${path}`);
      const id = res.headers.get('x-request-id');
      expect(id, path).toMatch(/^[A-Za-z0-9._:-]{8,64}$/);
      ids.add(id ?? '');
      if (res.status >= 400) expect((res.json().error as { request_id: string }).request_id).toBe(id);
    }
    expect(ids.size).toBe(paths.length);

    const mine = `trace-${listener}-0123456789.abc:def`;
    const echoed = await get(`${node.urls[listener]}/_health/live`, { 'X-Request-Id': mine });
    expect(echoed.headers.get('x-request-id')).toBe(mine);
    const notFound = await get(`${node.urls[listener]}/nope`, { 'X-Request-Id': mine });
    expect(notFound.headers.get('x-request-id')).toBe(mine);
    expect((notFound.json().error as { request_id: string }).request_id).toBe(mine);

    // An id that is too long or carries odd characters is replaced, not reflected.
    for (const bad of ['x'.repeat(65), 'has spaces in it', '<script>']) {
      const res = await get(`${node.urls[listener]}/_health/live`, { 'X-Request-Id': bad });
      const id = res.headers.get('x-request-id');
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    }
  });
});

describe('modelgate CLI', () => {
  it('--help lists the start command', async () => {
    const proc = runCli(['--help']);
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toMatch(/^Usage: modelgate/m);
    expect(proc.output()).toMatch(/^\s+start\b.*Start the gateway/m);
  });

  it('start --help lists a flag per config key', async () => {
    const proc = runCli(['start', '--help']);
    expect(await proc.exited).toBe(0);
    for (const flag of ['--config', '--inference-address', '--database-url', '--disable-token-auth']) {
      expect(proc.output()).toContain(flag);
    }
  });

  it('an unknown flag exits 2', async () => {
    const proc = runCli(['start', '--no-such-flag']);
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toMatch(/unknown option '--no-such-flag'/);
  });
});

describe('start failures and shutdown', () => {
  let blocker: Server;
  let blockedPort = 0;
  beforeAll(async () => {
    blocker = createServer((s) => s.destroy());
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    blockedPort = (blocker.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((res) => blocker.close(() => res()));
  });

  it('a port already in use: exit status 1 and one clear stderr line naming the address', async () => {
    const args = ['start', ...EPHEMERAL_PORTS.slice(2), '--inference-address', `http://127.0.0.1:${blockedPort}`];
    const proc = runCli(args);
    const stderr = stderrOf(proc);
    expect(await proc.exited).toBe(1);
    const lines = stderr().trimEnd().split('\n');
    expect(lines, stderr()).toHaveLength(1);
    expect(lines[0]).toContain(`http://127.0.0.1:${blockedPort}`);
    expect(lines[0]).toContain('ADDRESS_IN_USE');
    expect(lines[0]).toMatch(/already in use/);
    expect(proc.output()).not.toMatch(/modelgate started/);
  });

  it('the same failure on the metrics listener names metrics_address', async () => {
    const args = [
      'start',
      '--inference-address',
      'http://127.0.0.1:0',
      '--management-address',
      'http://127.0.0.1:0',
      '--metrics-address',
      `http://127.0.0.1:${blockedPort}`,
    ];
    const proc = runCli(args);
    const stderr = stderrOf(proc);
    expect(await proc.exited).toBe(1);
    expect(stderr()).toMatch(
      new RegExp(`^error \\[ADDRESS_IN_USE\\]: metrics_address http://127\\.0\\.0\\.1:${blockedPort} `),
    );
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s on an idle node: exit status 0', async (signal) => {
    const node = await startNodeProcess();
    expect(existsSync(join(node.cwd, 'key_file.json'))).toBe(true);
    expect((await get(`${node.urls.inference}/_health/live`)).status).toBe(200);
    expect(await node.stop(signal)).toBe(0);
    expect(node.output()).toMatch(/"msg":"shutting down"/);
    expect(node.output()).toMatch(/"msg":"modelgate stopped"/);
    // T6: the key file goes with the node, on either signal.
    expect(existsSync(join(node.cwd, 'key_file.json'))).toBe(false);
  });

  it('SIGTERM during a slow in-flight request: the request completes, then the process exits 0', async () => {
    const node = await startNodeProcess();
    const { port } = new URL(node.urls.management);
    const socket: Socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((res) => socket.once('connect', () => res()));
    let response = '';
    let answeredAt = 0;
    socket.on('data', (d: Buffer) => {
      answeredAt ||= Date.now();
      response += d.toString('utf8');
    });
    const body = '{"slow":"request"}';
    // Headers and half the body now; the rest after the signal.
    socket.write(
      `POST /api/v1/slow HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 8)}`,
    );
    await node.waitFor(/"url":"\/api\/v1\/slow"/);
    let exitedAt = 0;
    node.exited.then(() => {
      exitedAt = Date.now();
    });
    node.child.kill('SIGTERM');
    await node.waitFor(/"msg":"shutting down"/);
    await new Promise((r) => setTimeout(r, 700));
    expect(exitedAt).toBe(0);
    // A new connection is no longer accepted while the old request drains.
    await expect(get(`${node.urls.inference}/_health/live`)).rejects.toThrow();

    socket.write(body.slice(8));
    await expect.poll(() => response, { timeout: 5000 }).toMatch(/\r\n\r\n.*"code":"ROUTE_NOT_FOUND"/s);
    expect(response).toMatch(/^HTTP\/1\.1 404 /);
    expect(await node.exited).toBe(0);
    expect(answeredAt).toBeGreaterThan(0);
    expect(exitedAt).toBeGreaterThanOrEqual(answeredAt);
    socket.destroy();
  });
});

describe('readiness follows the PostgreSQL store', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let node: NodeProcess;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
    node = await startNodeProcess(['--database-url', scratch.url]);
  });
  afterAll(async () => {
    await node?.stop();
    await scratch?.drop();
  });

  async function readyStatuses(): Promise<{ status: number; code?: string }[]> {
    return Promise.all(
      LISTENERS.map(async (l) => {
        const res = await get(`${node.urls[l]}/_health/ready`);
        const body = res.json() as { error?: { code: string } };
        return body.error ? { status: res.status, code: body.error.code } : { status: res.status };
      }),
    );
  }

  it('is ready on PostgreSQL, 503 NOT_READY while the store is unreachable, ready again after', async () => {
    expect(node.output()).toMatch(/"store":"postgres"/);
    expect(await readyStatuses()).toEqual([{ status: 200 }, { status: 200 }, { status: 200 }]);

    await adminQuery(`ALTER DATABASE ${scratch.name} ALLOW_CONNECTIONS false`);
    await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${scratch.name}'`);
    const down = { status: 503, code: 'NOT_READY' };
    await expect.poll(readyStatuses, { timeout: 10_000, interval: 200 }).toEqual([down, down, down]);
    for (const l of LISTENERS) {
      const live = await get(`${node.urls[l]}/_health/live`);
      expect(live.status, l).toBe(200);
    }
    const ready = await get(`${node.urls.inference}/_health/ready`);
    expect((ready.json().error as { message: string }).message).toMatch(/store unreachable/);

    await adminQuery(`ALTER DATABASE ${scratch.name} ALLOW_CONNECTIONS true`);
    await expect
      .poll(readyStatuses, { timeout: 10_000, interval: 200 })
      .toEqual([{ status: 200 }, { status: 200 }, { status: 200 }]);
  });
});
