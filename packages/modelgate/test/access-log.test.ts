import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createAccessLog } from '../src/http/access-log.js';
import { loggablePath, MAX_LOGGED_PATH } from '../src/log/loggable-path.js';
import { rawRequest } from './helpers/http.js';
import { BIN, type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { closedPortUrl, type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/** The fields an access line may carry: anything else would be a field nobody vetted. */
const ACCESS_FIELDS = [
  'level',
  'time',
  'pid',
  'listener',
  'request_id',
  'method',
  'path',
  'deployment',
  'status',
  'code',
  'principal',
  'remote',
  'bytes_in',
  'bytes_out',
  'upstream_status',
  'upstream_ms',
  'duration_ms',
  'aborted',
  'msg',
];

/** The upstream's answer: a fixed body, so `bytes_out` is known exactly. */
const UPSTREAM_BODY = JSON.stringify({ answer: 'x'.repeat(300) });

/** An upstream that reads the whole upload, then answers `UPSTREAM_BODY` (status from `x-answer-status`). */
async function fixedUpstream(): Promise<{ url: string; uploads: number[]; close(): Promise<void> }> {
  const uploads: number[] = [];
  const server: Server = createServer((req, res) => {
    let length = 0;
    req.on('data', (chunk: Buffer) => {
      length += chunk.length;
    });
    req.on('end', () => {
      uploads.push(length);
      res.writeHead(Number(req.headers['x-answer-status'] ?? 200), { 'content-type': 'application/json' });
      res.end(UPSTREAM_BODY);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    uploads,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The access line (not another line, e.g. a warning) of a request. */
function accessLine(id: string): RegExp {
  return new RegExp(`"request_id":"${id}".*"msg":"request"}$`);
}

describe('the access line of a real node: every field, for each way a request ends', () => {
  let node: NodeProcess;
  let upstream: Awaited<ReturnType<typeof fixedUpstream>>;
  const password = `pw-${Math.random().toString(36).slice(2)}-secretpassword`;
  let apiKey: string;
  let apiKeyId: string;
  let otherKey: string;
  let inferenceKey: string;
  let socketUpstream: TestUpstream;
  let socketKey: string;
  let socketKeyId: string;

  /** Sends a request, then returns its access line, parsed. */
  async function served(
    path: string,
    init: RequestInit & { id: string },
  ): Promise<{ status: number; length: number; line: Record<string, unknown> }> {
    const res = await fetch(`${node.urls.inference}${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), 'x-request-id': init.id },
    });
    const body = Buffer.from(await res.arrayBuffer());
    const line = await node.waitFor(accessLine(init.id));
    return { status: res.status, length: body.length, line: JSON.parse(line) };
  }

  beforeAll(async () => {
    upstream = await fixedUpstream();
    node = await startNodeProcess();
    const keys = JSON.parse(readFileSync(`${node.cwd}/key_file.json`, 'utf8'));
    inferenceKey = keys.inference.key;
    const manage = async (path: string, body: unknown) => {
      const res = await fetch(`${node.urls.management}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.management.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBeLessThan(300);
      return res.json() as Promise<any>;
    };
    await manage('/secrets', { name: 'access-pw', value: password });
    const made = await manage('/deployments', {
      name: 'guarded',
      upstream: upstream.url,
      access: 'protected',
      auth: { basic_secret: 'access-pw', api_keys: true },
      api_keys: 1,
    });
    apiKey = made.api_keys[0].key;
    apiKeyId = made.api_keys[0].id;
    const other = await manage('/deployments', {
      name: 'other',
      upstream: upstream.url,
      access: 'protected',
      api_keys: 1,
    });
    otherKey = other.api_keys[0].key;
    await manage('/deployments', { name: 'down', upstream: await closedPortUrl(), access: 'public' });
    socketUpstream = await websocketUpstream();
    const socket = await manage('/deployments', {
      name: 'socket',
      upstream: socketUpstream.url,
      access: 'protected',
      api_keys: 1,
    });
    socketKey = socket.api_keys[0].key;
    socketKeyId = socket.api_keys[0].id;
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
    await socketUpstream?.close();
  });

  /** A WebSocket handshake the gateway refuses: its status and body length. */
  function refusedHandshake(
    path: string,
    headers: Record<string, string>,
  ): Promise<{ status: number; length: number }> {
    const socket = new WebSocket(`${node.urls.inference.replace('http', 'ws')}${path}`, { headers });
    return new Promise((resolve, reject) => {
      socket.on('unexpected-response', (_req, res) => {
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, length }));
      });
      socket.on('open', () => reject(new Error('the handshake was accepted')));
      socket.on('error', reject);
    });
  }

  const common = { level: 30, listener: 'inference', msg: 'request', remote: '127.0.0.1', pid: expect.any(Number) };

  function checkShape(line: Record<string, unknown>): void {
    expect(Object.keys(line).filter((k) => !ACCESS_FIELDS.includes(k))).toEqual([]);
    expect(new Date(String(line.time)).toISOString()).toBe(line.time);
    expect(line.duration_ms).toEqual(expect.any(Number));
    expect(line.duration_ms as number).toBeGreaterThanOrEqual(0);
  }

  it('allowed: method, path, deployment, status, principal, bytes in and out, upstream status and time', async () => {
    const upload = 'u'.repeat(1234);
    const r = await served('/guarded/predict', {
      id: 'acc-allowed',
      method: 'POST',
      body: upload,
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'text/plain', 'x-answer-status': '201' },
    });
    expect(r.status).toBe(201);
    expect(upstream.uploads).toContain(1234);
    checkShape(r.line);
    expect(r.line).toEqual({
      ...common,
      time: expect.any(String),
      request_id: 'acc-allowed',
      method: 'POST',
      path: '/guarded/predict',
      deployment: 'guarded',
      status: 201,
      principal: `api_key:${apiKeyId}`,
      bytes_in: 1234,
      bytes_out: Buffer.byteLength(UPSTREAM_BODY),
      upstream_status: 201,
      upstream_ms: expect.any(Number),
      duration_ms: expect.any(Number),
    });
    expect(r.line.duration_ms as number).toBeGreaterThanOrEqual(r.line.upstream_ms as number);
  });

  it('an upstream error status is the upstream’s, not a gateway code', async () => {
    const r = await served('/guarded/predict', {
      id: 'acc-upstream-500',
      headers: { authorization: `Bearer ${inferenceKey}`, 'x-answer-status': '500' },
    });
    expect(r.status).toBe(500);
    expect(r.line).toMatchObject({ status: 500, upstream_status: 500, principal: 'inference_key:node:inference' });
    expect(r.line).not.toHaveProperty('code');
  });

  it.each([
    ['401 without a credential', 'acc-401', {}, 401, 'CREDENTIAL_MISSING'],
    ['401 with a bad key', 'acc-401-bad', { authorization: 'Bearer mgk_notAKey' }, 401, 'CREDENTIAL_MALFORMED'],
    ['403 with another deployment’s key', 'acc-403', { authorization: 'OTHER' }, 403, 'FORBIDDEN'],
  ])('refused (%s): the denial code, no principal, no upstream', async (_name, id, headers, status, code) => {
    const h = { ...headers } as Record<string, string>;
    if (h.authorization === 'OTHER') h.authorization = `Bearer ${otherKey}`;
    const r = await served('/guarded/predict?x=1', { id, headers: h });
    expect(r.status).toBe(status);
    checkShape(r.line);
    expect(r.line).toEqual({
      ...common,
      time: expect.any(String),
      request_id: id,
      method: 'GET',
      path: '/guarded/predict?x=[redacted]',
      deployment: 'guarded',
      status,
      code,
      bytes_in: 0,
      bytes_out: r.length,
      duration_ms: expect.any(Number),
    });
  });

  it('404: an unknown deployment is named by no field but the path', async () => {
    const r = await served('/nowhere/predict', { id: 'acc-404' });
    expect(r.status).toBe(404);
    expect(r.line).toEqual({
      ...common,
      time: expect.any(String),
      request_id: 'acc-404',
      method: 'GET',
      path: '/nowhere/predict',
      status: 404,
      code: 'DEPLOYMENT_NOT_FOUND',
      bytes_in: 0,
      bytes_out: r.length,
      duration_ms: expect.any(Number),
    });
  });

  it('502: the upstream is down; the gateway’s code, no upstream status', async () => {
    const r = await served('/down/predict', { id: 'acc-502' });
    expect(r.status).toBe(502);
    checkShape(r.line);
    expect(r.line).toEqual({
      ...common,
      time: expect.any(String),
      request_id: 'acc-502',
      method: 'GET',
      path: '/down/predict',
      deployment: 'down',
      status: 502,
      code: 'UPSTREAM_UNAVAILABLE',
      bytes_in: 0,
      bytes_out: r.length,
      duration_ms: expect.any(Number),
    });
  });

  it('a credential in the query string or the path never reaches the log', async () => {
    const jwt = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ${Math.random().toString(36).slice(2)}In0.c2lnbmF0dXJlc2VjcmV0`;
    const querySecret = `q${Math.random().toString(36).slice(2)}querysecret`;
    const cases = [
      `/guarded/predict?api_key=${apiKey}&plain=${querySecret}&${inferenceKey}`,
      `/guarded/keys/${apiKey}/predict`,
      `/guarded/${jwt}/predict?${inferenceKey}=1`,
      `/nowhere/${inferenceKey}`,
    ];
    const lines = [];
    for (const [i, path] of cases.entries()) {
      lines.push((await served(path, { id: `acc-secret-${i}`, headers: { authorization: `Bearer ${apiKey}` } })).line);
    }
    expect(lines.map((l) => l.path)).toEqual([
      '/guarded/predict?api_key=[redacted]&plain=[redacted]&[redacted]',
      '/guarded/keys/[credential]/predict',
      '/guarded/[credential]/predict?[credential]=[redacted]',
      '/nowhere/[credential]',
    ]);
    const output = node.output();
    for (const secret of [apiKey, inferenceKey, jwt, querySecret, password]) expect(output).not.toContain(secret);
  });

  it('CRLF or JSON in the path cannot break or forge a line: one line, valid JSON, the path as sent', async () => {
    const targets = [
      '/guarded/a%0D%0A{"level":60,"msg":"forged"}',
      '/guarded/a","status":200,"principal":"admin_key:x',
      '/guarded/a\\b"}\n',
    ];
    for (const [i, target] of targets.entries()) {
      const requestLine = `GET ${target.replace('\n', '')} HTTP/1.1`;
      const res = await rawRequest(node.urls.inference, requestLine, [`X-Request-Id: acc-inject-${i}`]);
      expect(res.status).toBeGreaterThanOrEqual(400);
      const line = await node.waitFor(accessLine(`acc-inject-${i}`));
      const parsed = JSON.parse(line);
      expect(parsed.path).toBe(target.replace('\n', ''));
      expect(parsed).not.toHaveProperty('principal');
      expect(parsed.level).toBe(30);
    }
    expect(node.lines.filter((l) => l.includes('forged'))).toHaveLength(1);
    expect(node.output()).not.toMatch(/"level":60/);
  });

  it('management lines name the caller under the same request_id spelling', async () => {
    const management = JSON.parse(readFileSync(`${node.cwd}/key_file.json`, 'utf8')).management.key;
    const ok = await fetch(`${node.urls.management}/api/v1/whoami?token=${management}`, {
      headers: { authorization: `Bearer ${management}`, 'x-request-id': 'mgmt-ok' },
    });
    expect(ok.status).toBe(200);
    const refused = await fetch(`${node.urls.management}/api/v1/whoami`, {
      headers: { authorization: 'Bearer mgm_wrong', 'x-request-id': 'mgmt-refused' },
    });
    expect(refused.status).toBe(401);
    const completed = (id: string) => node.waitFor(new RegExp(`"request_id":"${id}".*"msg":"request completed"`));
    const okLine = JSON.parse(await completed('mgmt-ok'));
    expect(okLine).toMatchObject({
      listener: 'management',
      request_id: 'mgmt-ok',
      method: 'GET',
      url: '/api/v1/whoami?token=[redacted]',
      status: 200,
      principal: 'management_key:node:management',
      remote: '127.0.0.1',
      duration_ms: expect.any(Number),
    });
    const refusedLine = JSON.parse(await completed('mgmt-refused'));
    expect(refusedLine).toMatchObject({ listener: 'management', status: 401 });
    expect(refusedLine).not.toHaveProperty('principal');
    expect(node.output()).not.toContain(management);
  });

  it('one spelling of the request id: no line of any listener says reqId or requestId', () => {
    const parsed = node.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThan(10);
    const misspelled = parsed.filter((l) => 'reqId' in l || 'requestId' in l || 'req_id' in l);
    expect(misspelled).toEqual([]);
    // The warning the 502 left carries the id too.
    expect(parsed.find((l) => l.msg === 'upstream failure')).toMatchObject({ request_id: 'acc-502' });
  });

  it('a refused WebSocket handshake gets the line of any refused request (401, 403, 404)', async () => {
    const cases: {
      id: string;
      path: string;
      headers: Record<string, string>;
      deployment?: string;
      status: number;
      code: string;
    }[] = [
      {
        id: 'acc-ws-401',
        path: '/socket/chat',
        headers: {},
        deployment: 'socket',
        status: 401,
        code: 'CREDENTIAL_MISSING',
      },
      {
        id: 'acc-ws-403',
        path: '/socket/chat',
        headers: { authorization: `Bearer ${otherKey}` },
        deployment: 'socket',
        status: 403,
        code: 'FORBIDDEN',
      },
      { id: 'acc-ws-404', path: '/nowhere/chat', headers: {}, status: 404, code: 'DEPLOYMENT_NOT_FOUND' },
    ];
    for (const c of cases) {
      const answer = await refusedHandshake(c.path, { ...c.headers, 'x-request-id': c.id });
      expect(answer.status).toBe(c.status);
      const line = JSON.parse(await node.waitFor(accessLine(c.id)));
      checkShape(line);
      expect(line).toEqual({
        ...common,
        time: expect.any(String),
        request_id: c.id,
        method: 'GET',
        path: c.path,
        ...(c.deployment ? { deployment: c.deployment } : {}),
        status: c.status,
        code: c.code,
        bytes_in: 0,
        bytes_out: answer.length,
        duration_ms: expect.any(Number),
      });
    }
  });

  it('an accepted WebSocket handshake: status 101, written when the relay ends, with the bytes relayed', async () => {
    const socket = new WebSocket(`${node.urls.inference.replace('http', 'ws')}/socket/chat?room=${socketKey}`, {
      headers: { authorization: `Bearer ${socketKey}`, 'x-request-id': 'acc-ws-101' },
    });
    const reply = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => socket.send('hello'));
      socket.on('message', (data) => resolve(data.toString()));
      socket.on('error', reject);
    });
    expect(reply).toBe('echo:hello');
    // The relay is still open: its line comes when it ends (docs/decisions.md).
    expect(node.lines.some((l) => accessLine('acc-ws-101').test(l))).toBe(false);
    socket.close();
    const line = JSON.parse(await node.waitFor(accessLine('acc-ws-101')));
    checkShape(line);
    expect(line).toEqual({
      ...common,
      time: expect.any(String),
      request_id: 'acc-ws-101',
      method: 'GET',
      path: '/socket/chat?room=[redacted]',
      deployment: 'socket',
      status: 101,
      principal: `api_key:${socketKeyId}`,
      bytes_in: expect.any(Number),
      bytes_out: expect.any(Number),
      upstream_status: 101,
      upstream_ms: expect.any(Number),
      duration_ms: expect.any(Number),
    });
    // At least the one message each way, framed.
    expect(line.bytes_in).toBeGreaterThan('hello'.length);
    expect(line.bytes_out).toBeGreaterThan('echo:hello'.length);
    expect(node.output()).not.toContain(socketKey);
  });

  it('a very long path is cut, so a line stays one short write', async () => {
    const r = await served(`/nowhere/${'a'.repeat(5000)}`, { id: 'acc-long' });
    expect((r.line.path as string).length).toBe(MAX_LOGGED_PATH + 3);
    expect(r.line.path).toMatch(/^\/nowhere\/a+\.\.\.$/);
  });
});

describe('loggablePath', () => {
  it.each([
    ['/d/x', '/d/x'],
    ['/d/x?', '/d/x?'],
    ['/d/x?a=1&b=&c', '/d/x?a=[redacted]&b=&[redacted]'],
    ['/d/x?a=1&&b=2', '/d/x?a=[redacted]&&b=[redacted]'],
    ['/d/x?a=b=c', '/d/x?a=[redacted]'],
    ['/d/snake_case/eyJ', '/d/snake_case/eyJ'],
  ])('%s → %s', (input, output) => {
    expect(loggablePath(input)).toBe(output);
  });

  it('cuts after redacting, so a cut never leaves part of a credential', () => {
    const key = 'mgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const path = `/d/${'x'.repeat(MAX_LOGGED_PATH - 10)}${key}`;
    expect(loggablePath(path)).not.toContain('mgk_AAAA');
  });
});

describe('createAccessLog', () => {
  function capture(level: string) {
    const lines: string[] = [];
    const dest = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    return { log: pino({ level }, dest), lines };
  }

  const fields = {
    requestId: 'id-1',
    method: 'GET',
    url: '/d/x',
    status: 200,
    code: undefined,
    deployment: 'd',
    principal: undefined,
    remote: undefined,
    bytesIn: 0,
    bytesOut: 0,
    upstreamStatus: 0,
    upstreamMs: -1,
    durationMs: 1,
    aborted: false,
  };

  it('escapes what is not plain, so every line stays one valid JSON object', async () => {
    const { log, lines } = capture('info');
    const access = createAccessLog(log, { listener: 'inference' });
    access({ ...fields, deployment: 'we"ird\nname', principal: 'api_key:\u2028x', remote: '::1', aborted: true });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      listener: 'inference',
      request_id: 'id-1',
      deployment: 'we"ird\nname',
      principal: 'api_key:\u2028x',
      remote: '::1',
      status: 200,
      aborted: true,
      msg: 'request',
    });
  });

  it('writes the lines of one event-loop turn together, whole, at most 4 KiB (PIPE_BUF) per write', async () => {
    const writes: string[] = [];
    const dest = new Writable({
      write(chunk, _enc, done) {
        writes.push(String(chunk));
        done();
      },
    });
    const access = createAccessLog(pino({ level: 'info' }, dest), { listener: 'inference' });
    const line = (i: number) => ({
      requestId: `id-${i}`,
      method: 'POST',
      status: 200,
      deployment: `deployment-${'x'.repeat(100)}`,
      principal: `api_key:${i}`,
      remote: '127.0.0.1',
      url: '/x',
      code: undefined,
      bytesIn: 0,
      bytesOut: 2,
      upstreamStatus: 200,
      upstreamMs: 1,
      durationMs: 2,
      aborted: false,
    });
    for (let i = 0; i < 3; i++) access(line(i));
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    expect(
      writes[0]!
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).request_id),
    ).toEqual(['id-0', 'id-1', 'id-2']);

    writes.length = 0;
    for (let i = 0; i < 100; i++) access(line(i));
    await new Promise((r) => setImmediate(r));
    expect(writes.length).toBeGreaterThan(1);
    expect(writes.length).toBeLessThan(100);
    for (const write of writes) {
      expect(Buffer.byteLength(write)).toBeLessThanOrEqual(4096);
      expect(write.endsWith('\n')).toBe(true);
    }
    const ids = writes.flatMap((w) =>
      w
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).request_id),
    );
    expect(ids).toEqual(Array.from({ length: 100 }, (_, i) => `id-${i}`));
  });

  it.each(['a pipe', 'a file'])(
    'a process that exits mid-turn still writes its pending lines (stdout is %s)',
    (kind) => {
      // The built module (as `modelgate start` runs it), on the process's own stdout: asynchronous
      // writes on a pipe, synchronous ones on a file.
      const script = `
      const { createLogger } = await import(${JSON.stringify(resolve(BIN, '../../dist/log/logger.js'))});
      const { createAccessLog } = await import(${JSON.stringify(resolve(BIN, '../../dist/http/access-log.js'))});
      const access = createAccessLog(createLogger({ level: 'info', pretty: false }), { listener: 'inference' });
      for (let i = 0; i < 50; i++) access({ requestId: 'exit-' + i, method: 'GET', url: '/d/x', status: 200, code: undefined, deployment: 'd', principal: undefined, remote: '::1', bytesIn: 0, bytesOut: 2, upstreamStatus: 200, upstreamMs: 1, durationMs: 2, aborted: false });
      process.exit(0);
    `;
      const args = ['--input-type=module', '-e', script];
      let out: string;
      if (kind === 'a pipe') {
        out = execFileSync(process.execPath, args, { encoding: 'utf8' });
      } else {
        const file = join(mkdtempSync(join(tmpdir(), 'modelgate-access-')), 'stdout.log');
        const fd = openSync(file, 'w');
        const run = spawnSync(process.execPath, args, { stdio: ['ignore', fd, 'inherit'] });
        closeSync(fd);
        expect(run.status).toBe(0);
        out = readFileSync(file, 'utf8');
      }
      const ids = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).request_id);
      // Every line, each once. On a pipe the order can invert: a batch still being written
      // asynchronously when the process exits lands after the batches pino's exit hook writes
      // synchronously (sonic-boom's flushSync does not wait for a write in flight).
      const byNumber = (a: string, b: string) => Number(a.slice(5)) - Number(b.slice(5));
      const expected = Array.from({ length: 50 }, (_, i) => `exit-${i}`);
      if (kind === 'a file') expect(ids).toEqual(expected);
      else expect([...ids].sort(byNumber)).toEqual(expected);
    },
  );

  it('writes nothing above the info level', async () => {
    const { log, lines } = capture('warn');
    createAccessLog(log, {})(fields);
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
  });
});
