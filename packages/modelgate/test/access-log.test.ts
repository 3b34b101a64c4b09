import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessLog } from '../src/log/access-log.js';
import { BIN, type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/** The fields an access line may carry: anything else would be a field nobody vetted. */
const ACCESS_FIELDS = [
  'level',
  'time',
  'pid',
  'listener',
  'request_id',
  'method',
  'deployment',
  'status',
  'principal',
  'remote',
  'msg',
];

describe('the access line at the default log level carries no credential', () => {
  let node: NodeProcess;
  let upstream: TestUpstream;
  const password = `pw-${Math.random().toString(36).slice(2)}-secretpassword`;
  let apiKey: string;

  beforeAll(async () => {
    upstream = await recordingUpstream('access');
    node = await startNodeProcess();
    const token = JSON.parse(readFileSync(`${node.cwd}/key_file.json`, 'utf8')).management.key;
    const manage = async (path: string, body: unknown) => {
      const res = await fetch(`${node.urls.management}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
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
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
  });

  it('writes id, method, deployment, status, principal and address, and never the Authorization, query or cookie', async () => {
    const querySecret = `q${Math.random().toString(36).slice(2)}querysecret`;
    const cookieSecret = `c${Math.random().toString(36).slice(2)}cookiesecret`;
    const wrongKey = `${apiKey.slice(0, 4)}${'A'.repeat(apiKey.length - 4)}`;
    const basic = `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;
    const cases = [
      { id: 'access-key-ok', authorization: `Bearer ${apiKey}`, status: 200 },
      { id: 'access-basic-ok', authorization: basic, status: 200 },
      { id: 'access-key-bad', authorization: `Bearer ${wrongKey}`, status: 401 },
    ];
    for (const c of cases) {
      const res = await fetch(`${node.urls.inference}/guarded/predict?token=${querySecret}&plain=${querySecret}`, {
        headers: { authorization: c.authorization, cookie: `session=${cookieSecret}`, 'x-request-id': c.id },
      });
      await res.arrayBuffer();
      expect(res.status).toBe(c.status);
    }
    // The upstream saw the query: it was sent, so its absence from the log means something.
    expect(upstream.hits.some((h) => h.url.includes(querySecret))).toBe(true);

    const lines = await Promise.all(cases.map((c) => node.waitFor(new RegExp(`"request_id":"${c.id}"`))));
    const output = node.output();
    for (const secret of [apiKey, wrongKey, password, querySecret, cookieSecret, basic.slice(6)]) {
      expect(output).not.toContain(secret);
    }
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const entry of parsed) {
      expect(
        Object.keys(entry).every((k) => ACCESS_FIELDS.includes(k)),
        JSON.stringify(entry),
      ).toBe(true);
      expect(entry).toMatchObject({ level: 30, msg: 'request', method: 'GET' });
      expect(entry.remote).toMatch(/127\.0\.0\.1/);
      expect(new Date(String(entry.time)).toISOString()).toBe(entry.time);
    }
    expect(parsed[0]).toMatchObject({
      status: 200,
      deployment: 'guarded',
      principal: expect.stringMatching(/^api_key:/),
    });
    expect(parsed[1]).toMatchObject({
      status: 200,
      deployment: 'guarded',
      principal: expect.stringMatching(/^basic:/),
    });
    expect(parsed[2]).toMatchObject({ status: 401 });
    expect(parsed[2]).not.toHaveProperty('principal');
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

  it('escapes what is not plain, so every line stays one valid JSON object', async () => {
    const { log, lines } = capture('info');
    const access = createAccessLog(log, { listener: 'inference' });
    access({
      requestId: 'id-1',
      method: 'GET',
      status: 200,
      deployment: 'we"ird\nname',
      principal: 'api_key:\u2028x',
      remote: '::1',
    });
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      listener: 'inference',
      request_id: 'id-1',
      deployment: 'we"ird\nname',
      principal: 'api_key:\u2028x',
      remote: '::1',
      status: 200,
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
      const { createAccessLog } = await import(${JSON.stringify(resolve(BIN, '../../dist/log/access-log.js'))});
      const access = createAccessLog(createLogger({ level: 'info', pretty: false }), { listener: 'inference' });
      for (let i = 0; i < 50; i++) access({ requestId: 'exit-' + i, method: 'GET', status: 200, deployment: 'd', principal: undefined, remote: '::1' });
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
      expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => `exit-${i}`));
    },
  );

  it('writes nothing above the info level', async () => {
    const { log, lines } = capture('warn');
    createAccessLog(
      log,
      {},
    )({ requestId: 'x', method: 'GET', status: 200, deployment: 'd', principal: undefined, remote: undefined });
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
  });
});
