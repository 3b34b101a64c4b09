import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { parseProxyHeader, V2_MAX_BODY } from '../src/http/proxy-header.js';
import { generateCredential } from '../src/kernel/credential.js';
import { recordsOf } from './helpers/audit.js';
import { parseResponseHead } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { type NodeProcess, startNodeProcess, tempDir } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * The PROXY protocol behind a layer-4 load balancer (issue 10): peers in `trusted_proxies` must
 * send a v1 or v2 header, which then names the client for throttles, logs, the audit and the
 * `X-Forwarded-For` sent upstream; anyone else sending one is cut off. Each test talks from its
 * own loopback addresses (127.0.7x.y), so throttle state never leaks between tests.
 */

// ---------------------------------------------------------------------------------------------
// Building headers

const v1 = (line: string) => Buffer.from(`${line}\r\n`, 'latin1');
const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: `command` 0 LOCAL / 1 PROXY, `family` the family-and-transport byte, then `body`. */
function v2(command: number, family: number, body: Buffer, length = body.length, version = 2): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = (version << 4) | command;
  fixed[1] = family;
  fixed.writeUInt16BE(length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

function v2Tcp4(src: string, srcPort: number, tlvs = Buffer.alloc(0)): Buffer {
  const body = Buffer.alloc(12);
  src.split('.').forEach((octet, i) => {
    body[i] = Number(octet);
  });
  body.set([10, 0, 0, 5], 4);
  body.writeUInt16BE(srcPort, 8);
  body.writeUInt16BE(443, 10);
  return v2(1, 0x11, Buffer.concat([body, tlvs]));
}

function v2Tcp6(groups: number[], srcPort: number): Buffer {
  const body = Buffer.alloc(36);
  for (const [i, g] of groups.entries()) body.writeUInt16BE(g, i * 2);
  body.writeUInt16BE(1, 30); // destination ::1
  body.writeUInt16BE(srcPort, 32);
  body.writeUInt16BE(443, 34);
  return v2(1, 0x21, body);
}

/** One TLV of type `type` (AWS uses 0xEA for the VPC endpoint id). */
const tlv = (type: number, value: string) => {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(Buffer.byteLength(value), 1);
  return Buffer.concat([head, Buffer.from(value)]);
};

// ---------------------------------------------------------------------------------------------
// The parser

describe('parseProxyHeader', () => {
  const request = Buffer.from('GET / HTTP/1.1\r\n\r\n');

  it.each([
    ['v1 TCP4', v1('PROXY TCP4 203.0.113.9 10.0.0.5 51234 443'), '203.0.113.9', 51234],
    ['v1 TCP6, canonicalised', v1('PROXY TCP6 2001:DB8:0:0::9 fd00::5 65535 443'), '2001:db8::9', 65535],
    ['v1 port 0', v1('PROXY TCP4 203.0.113.9 10.0.0.5 0 443'), '203.0.113.9', 0],
    ['v2 TCP over IPv4', v2Tcp4('198.51.100.7', 4711), '198.51.100.7', 4711],
    ['v2 TCP over IPv6', v2Tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10], 80), '2001:db8::10', 80],
    ['v2 with TLVs (skipped)', v2Tcp4('198.51.100.8', 1, tlv(0xea, 'vpce-0123456789abcdef')), '198.51.100.8', 1],
  ] as const)('%s: the client, and where the request starts', (_name, header, address, port) => {
    const parsed = parseProxyHeader(Buffer.concat([header, request]));
    expect(parsed).toEqual({
      kind: 'done',
      consumed: header.length,
      source: expect.objectContaining({ address, port }),
    });
  });

  it.each([
    ['v1 UNKNOWN', v1('PROXY UNKNOWN')],
    ['v1 UNKNOWN with addresses (ignored)', v1('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535')],
    ['v1 of exactly 107 bytes', v1(`PROXY UNKNOWN ${'x'.repeat(105 - 'PROXY UNKNOWN '.length)}`)],
    ['v2 LOCAL (a health check)', v2(0, 0x00, Buffer.alloc(0))],
    ['v2 LOCAL with a body', v2(0, 0x11, Buffer.alloc(12))],
  ])('%s: no client, the connection is the balancer’s own', (_name, header) => {
    expect(parseProxyHeader(Buffer.concat([header, request]))).toEqual({
      kind: 'done',
      consumed: header.length,
      source: undefined,
    });
  });

  it('needs more at every split point of a valid header, and never says more than that', () => {
    for (const header of [
      v1('PROXY TCP6 2001:db8::9 fd00::5 51234 443'),
      v2Tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], 9),
    ]) {
      for (let cut = 1; cut < header.length; cut++) {
        expect(parseProxyHeader(header.subarray(0, cut)), `cut at ${cut}`).toEqual({ kind: 'needMore' });
      }
    }
  });

  it.each([
    ['HTTP', 'GET / HTTP/1.1\r\n'],
    ['HTTP/2 preface', 'PRI * HTTP/2.0\r\n'],
    ['a TLS ClientHello', '\x16\x03\x01\x02\x00'],
    ['a lower-case proxy line', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
  ])('%s is not a header', (_name, text) => {
    expect(parseProxyHeader(Buffer.from(text, 'latin1'))).toEqual({ kind: 'absent' });
  });

  const long = `PROXY TCP6 ${'f'.repeat(40)} ${'f'.repeat(40)} 1 2`;
  it.each([
    ['v1 longer than 107 bytes', Buffer.from(`${long}${' '.repeat(20)}`)],
    ['v1 of 108 bytes with its CRLF', v1(`PROXY UNKNOWN ${'x'.repeat(106 - 'PROXY UNKNOWN '.length)}`)],
    ['v1 family TCP5', v1('PROXY TCP5 1.2.3.4 5.6.7.8 1 2')],
    ['v1 UDP4', v1('PROXY UDP4 1.2.3.4 5.6.7.8 1 2')],
    ['v1 IPv6 under TCP4', v1('PROXY TCP4 2001:db8::1 5.6.7.8 1 2')],
    ['v1 IPv4 with a leading zero', v1('PROXY TCP4 01.2.3.4 5.6.7.8 1 2')],
    ['v1 IPv6 with a zone', v1('PROXY TCP6 fe80::1%eth0 fe80::2 1 2')],
    ['v1 port above 65535', v1('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2')],
    ['v1 port with a leading zero', v1('PROXY TCP4 1.2.3.4 5.6.7.8 080 2')],
    ['v1 double space', v1('PROXY TCP4  1.2.3.4 5.6.7.8 1 2')],
    ['v1 missing a field', v1('PROXY TCP4 1.2.3.4 5.6.7.8 1')],
    ['v1 an extra field', v1('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3')],
    ['v1 CR without LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX')],
    ['v1 NUL byte', Buffer.from('PROXY TCP4 1.2.3.4\0')],
    ['v1 bare LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n')],
    ['v1 garbage', Buffer.concat([Buffer.from('PROXY '), randomBytes(200).map((b) => (b & 0x7f) | 0x80)])],
    ['v2 version 1', v2(1, 0x11, Buffer.alloc(12), 12, 1)],
    ['v2 unknown command', v2(2, 0x11, Buffer.alloc(12))],
    ['v2 length 65535', v2(1, 0x11, Buffer.alloc(0), 0xffff)],
    ['v2 length just over the bound', v2(1, 0x11, Buffer.alloc(0), V2_MAX_BODY + 1)],
    ['v2 UDP over IPv4', v2(1, 0x12, Buffer.alloc(12))],
    ['v2 AF_UNIX', v2(1, 0x31, Buffer.alloc(216))],
    ['v2 PROXY with an unspecified family', v2(1, 0x00, Buffer.alloc(0))],
    ['v2 unknown family', v2(1, 0x41, Buffer.alloc(12))],
    ['v2 length shorter than an IPv6 address block', v2(1, 0x21, Buffer.alloc(12))],
  ])('%s is invalid', (_name, bytes) => {
    expect(parseProxyHeader(bytes).kind).toBe('invalid');
  });

  it('refuses a huge v2 length on the fixed part alone, before its body arrives', () => {
    expect(parseProxyHeader(v2(1, 0x11, Buffer.alloc(0), 0xffff)).kind).toBe('invalid');
    // A bad family too: nothing is awaited that would be refused anyway.
    expect(parseProxyHeader(v2(1, 0x31, Buffer.alloc(0), 216)).kind).toBe('invalid');
  });
});

// ---------------------------------------------------------------------------------------------
// The config

describe('proxy_protocol config', () => {
  it('is off by default', () => {
    const result = resolveConfig({});
    expect(result.ok && result.config.proxy_protocol).toBe('off');
  });

  it('needs trusted_proxies: on without them is a config error', () => {
    for (const value of ['inference', 'all']) {
      const result = resolveConfig({ cli: { proxy_protocol: value } });
      expect(result.ok).toBe(false);
      expect(result.ok ? [] : result.problems).toContain(
        'proxy_protocol needs trusted_proxies: the addresses of the load balancers that send the header',
      );
    }
    expect(resolveConfig({ cli: { proxy_protocol: 'inference', trusted_proxies: '10.0.0.0/8' } }).ok).toBe(true);
  });

  it('accepts only off, inference and all', () => {
    const result = resolveConfig({ cli: { proxy_protocol: 'on', trusted_proxies: '10.0.0.0/8' } });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems.join('\n')).toMatch(/proxy.protocol must be one of off, inference, all/);
  });
});

// ---------------------------------------------------------------------------------------------
// On real sockets

interface Exchange {
  /** The response's status, or undefined when the server closed without answering. */
  readonly status: number | undefined;
  readonly headers: Record<string, string>;
  /** Everything received before the server closed. */
  readonly raw: string;
}

/** Opens a TCP connection from `from` to `baseUrl`'s port, resolving once connected. */
function dial(baseUrl: string, from: string): Promise<Socket> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), localAddress: from }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads `socket` until the server closes it. */
function readToClose(socket: Socket): Promise<Exchange> {
  return new Promise((resolve) => {
    let raw = '';
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      const head = raw.split('\r\n\r\n')[0] ?? '';
      const { status, headers } = raw === '' ? { status: undefined, headers: {} } : parseResponseHead(head);
      resolve({ status, headers, raw });
    });
  });
}

/**
 * Connects from `from`, sends each part as its own TCP segment (a short pause between them,
 * Nagle off), and reads until the server closes the connection.
 */
async function exchange(baseUrl: string, from: string, parts: readonly (string | Buffer)[]): Promise<Exchange> {
  const socket = await dial(baseUrl, from);
  socket.setNoDelay(true);
  const done = readToClose(socket);
  for (const [i, part] of parts.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 15));
    if (socket.destroyed) break;
    socket.write(part);
  }
  return done;
}

/** An HTTP/1.1 request to `path` that closes the connection after its answer (`Host: gateway` unless given). */
function httpRequest(path: string, headers: Record<string, string> = {}): string {
  const all = { host: 'gateway', ...headers };
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('')}Connection: close\r\n\r\n`;
}

const LIMIT = 4;
const guess = () => `Bearer ${generateCredential('api_key')}`;

let up: TestUpstream;
beforeAll(async () => {
  up = await recordingUpstream('model');
});
afterAll(async () => {
  await up?.close();
});

/** The `X-Forwarded-For` the upstream received for `/model<path>` (it sees `<path>`). */
function forwardedFor(path: string): string | string[] | undefined {
  const upstreamPath = path.replace(/^\/model/, '');
  return up.hits.find((hit) => hit.url === upstreamPath)?.headers['x-forwarded-for'];
}

async function nodeWith(overrides: Record<string, string>): Promise<TestNode> {
  const t = await startTestNode({ failure_limit: String(LIMIT), failure_window_s: '60', ...overrides });
  const deployed = await manage(t, 'POST', '/deployments', { name: 'model', upstream: up.url, access: 'protected' });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  return t;
}

describe('proxy_protocol on the inference and management listeners', () => {
  let t: TestNode;
  const proxy = '127.0.70.1';
  const outsider = '127.0.71.1';
  let inference: string;
  let key: string;
  beforeAll(async () => {
    t = await nodeWith({
      trusted_proxies: '127.0.70.0/24',
      proxy_protocol: 'all',
      proxy_protocol_timeout_ms: '1000',
    });
    inference = t.node.urls.inference;
    key = `Bearer ${t.keys.inference}`;
  });
  afterAll(async () => t?.close());

  const predict = (path: string, header: Buffer, authorization = key, more: Record<string, string> = {}) =>
    exchange(inference, proxy, [Buffer.concat([header, Buffer.from(httpRequest(path, { authorization, ...more }))])]);

  it.each([
    ['v1 TCP4', v1('PROXY TCP4 203.0.113.10 10.0.0.5 50000 8080'), '203.0.113.10'],
    ['v1 TCP6', v1('PROXY TCP6 2001:db8::a fd00::5 50000 8080'), '2001:db8::a'],
    ['v2 TCP4 with TLVs', v2Tcp4('203.0.113.11', 50001, tlv(0xea, 'vpce-0abc')), '203.0.113.11'],
    ['v2 TCP6', v2Tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xb], 50002), '2001:db8::b'],
    ['v2 LOCAL: the balancer itself', v2(0, 0x00, Buffer.alloc(0)), proxy],
    ['v1 UNKNOWN: the balancer itself', v1('PROXY UNKNOWN'), proxy],
  ] as const)('%s from a trusted peer: the upstream is told the client', async (name, header, client) => {
    const path = `/model/${name.replace(/[^a-z0-9]+/gi, '-')}`;
    const res = await predict(path, header);
    expect(res.status, res.raw).toBe(200);
    expect(forwardedFor(path)).toBe(client);
  });

  it('a header split across many TCP segments', async () => {
    const header = v1('PROXY TCP4 203.0.113.12 10.0.0.5 50000 8080');
    // Eight segments: a pause between each, all well within proxy_protocol_timeout_ms.
    const parts = Array.from({ length: 8 }, (_, i) => header.subarray(i * 6, i * 6 + 6));
    const res = await exchange(inference, proxy, [...parts, httpRequest('/model/split', { authorization: key })]);
    expect(res.status, res.raw).toBe(200);
    expect(forwardedFor('/model/split')).toBe('203.0.113.12');
    const binary = v2Tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xc], 1);
    const split = await exchange(inference, proxy, [
      binary.subarray(0, 5),
      binary.subarray(5, 14),
      binary.subarray(14, 30),
      Buffer.concat([binary.subarray(30), Buffer.from('GET /model/split-v2 HT')]),
      `TP/1.1\r\nHost: gateway\r\nAuthorization: ${key}\r\nConnection: close\r\n\r\n`,
    ]);
    expect(split.status, split.raw).toBe(200);
    expect(forwardedFor('/model/split-v2')).toBe('2001:db8::c');
  });

  it('keep-alive: every request on the connection is the header’s client, and a body passes intact', async () => {
    const socket = await dial(inference, proxy);
    const done = readToClose(socket);
    const body = 'x'.repeat(100_000);
    socket.write(v1('PROXY TCP4 203.0.113.13 10.0.0.5 50000 8080'));
    socket.write(
      `POST /model/keepalive-1 HTTP/1.1\r\nHost: gateway\r\nAuthorization: ${key}\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    socket.write(httpRequest('/model/keepalive-2', { authorization: key }));
    const res = await done;
    expect(res.raw.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(forwardedFor('/model/keepalive-1')).toBe('203.0.113.13');
    expect(forwardedFor('/model/keepalive-2')).toBe('203.0.113.13');
  });

  it('two clients behind one proxy are throttled independently on the data plane', async () => {
    const a = v1('PROXY TCP4 203.0.113.20 10.0.0.5 50000 8080');
    const b = v2Tcp4('203.0.113.21', 50000);
    for (let i = 0; i < LIMIT; i++) expect((await predict('/model/t', a, guess())).status).toBe(401);
    const locked = await predict('/model/t', a);
    expect(locked.status).toBe(429);
    expect(locked.raw).toContain('"THROTTLED"');
    expect((await predict('/model/t', b)).status).toBe(200);
    // The balancer's own connections (LOCAL) are not the locked client either.
    expect((await predict('/model/t', v2(0, 0x00, Buffer.alloc(0)))).status).toBe(200);
  });

  it('X-Forwarded-For from the header’s client is not believed (it is not a trusted proxy)', async () => {
    const header = v1('PROXY TCP4 203.0.113.22 10.0.0.5 50000 8080');
    for (let i = 0; i < LIMIT; i++) {
      const spoofed = { 'x-forwarded-for': `198.51.100.${i + 1}` };
      expect((await predict('/model/t', header, guess(), spoofed)).status).toBe(401);
    }
    expect((await predict('/model/t', header, key, { 'x-forwarded-for': '198.51.100.99' })).status).toBe(429);
  });

  it('two clients behind one proxy are throttled independently on the management API', async () => {
    const whoami = (header: Buffer, authorization: string) =>
      exchange(t.node.urls.management, proxy, [
        Buffer.concat([
          header,
          Buffer.from(httpRequest('/api/v1/whoami', { authorization, host: new URL(t.node.urls.management).host })),
        ]),
      ]);
    const a = v1('PROXY TCP4 203.0.113.30 10.0.0.5 50000 8081');
    const b = v1('PROXY TCP4 203.0.113.31 10.0.0.5 50000 8081');
    for (let i = 0; i < LIMIT; i++) expect((await whoami(a, guess())).status).toBe(401);
    expect((await whoami(a, `Bearer ${t.keys.management}`)).status).toBe(429);
    expect((await whoami(b, `Bearer ${t.keys.management}`)).status).toBe(200);
  });

  it('the audit records the client the header named', async () => {
    const id = `pp-${randomBytes(4).toString('hex')}`;
    const header = v2Tcp6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x40], 1);
    expect((await predict('/model/audited', header, guess(), { 'x-request-id': id })).status).toBe(401);
    const [record] = await recordsOf(t, id);
    expect(record?.client_address).toBe('2001:db8::40');
  });

  it('an untrusted peer sending a header is cut off, v1 or v2, on both listeners', async () => {
    for (const header of [v1('PROXY TCP4 203.0.113.50 10.0.0.5 1 2'), v2Tcp4('203.0.113.51', 1)]) {
      for (const url of [inference, t.node.urls.management]) {
        const res = await exchange(url, outsider, [Buffer.concat([header, Buffer.from(httpRequest('/model/x'))])]);
        expect(res.raw).toBe('');
      }
    }
    // Even just the signature is enough to refuse, whatever would follow.
    expect((await exchange(inference, outsider, ['PROXY '])).raw).toBe('');
    expect(up.hits.some((hit) => String(hit.headers['x-forwarded-for']).includes('203.0.113.5'))).toBe(false);
  });

  it('an untrusted peer without a header is served as itself', async () => {
    const res = await exchange(inference, outsider, [httpRequest('/model/direct', { authorization: key })]);
    expect(res.status, res.raw).toBe(200);
    expect(forwardedFor('/model/direct')).toBe(outsider);
    // Its bytes trickling in, even a prefix the signature shares, are handed over intact.
    const slow = await exchange(inference, outsider, [
      'P',
      'O',
      `ST /model/direct-2 HTTP/1.1\r\nHost: g\r\n`,
      'Content-Length: 0\r\nConnection: close\r\n\r\n',
    ]);
    expect(slow.status, slow.raw).toBe(401);
  });

  it('a trusted peer without a header is cut off (the balancer is misconfigured)', async () => {
    const res = await exchange(inference, proxy, [httpRequest('/model/x', { authorization: key })]);
    expect(res.raw).toBe('');
  });

  it.each([
    ['v1 too long', Buffer.from(`PROXY TCP4 ${'1'.repeat(200)}`)],
    ['v1 bad family', v1('PROXY TCP5 203.0.113.60 10.0.0.5 1 2')],
    ['v1 bad address', v1('PROXY TCP4 203.0.113.999 10.0.0.5 1 2')],
    ['v1 garbage', Buffer.concat([Buffer.from('PROXY '), randomBytes(300)])],
    ['v2 huge length', v2(1, 0x11, Buffer.alloc(64), 0xffff)],
    ['v2 UDP', v2(1, 0x12, Buffer.alloc(12))],
    ['random bytes', randomBytes(512)],
  ])('%s from a trusted peer: closed, no answer, and the node serves on', async (_name, bytes) => {
    const res = await exchange(inference, proxy, [Buffer.concat([bytes, Buffer.from(httpRequest('/model/x'))])]);
    expect(res.raw).toBe('');
    expect((await predict('/model/after', v1('PROXY TCP4 203.0.113.61 10.0.0.5 1 2'))).status).toBe(200);
  });

  it('a truncated header, then the peer closes: no answer, no crash', async () => {
    const socket = await dial(inference, proxy);
    const done = readToClose(socket);
    socket.end(v1('PROXY TCP4 203.0.113.62 10.0.0.5 1 2').subarray(0, 20));
    expect((await done).raw).toBe('');
    const reset = await dial(inference, proxy);
    reset.write(v2Tcp4('203.0.113.63', 1).subarray(0, 20));
    reset.resetAndDestroy();
    expect((await predict('/model/after', v1('PROXY TCP4 203.0.113.64 10.0.0.5 1 2'))).status).toBe(200);
  });

  it('slowloris: a header that never completes, or no byte at all, is closed after the timeout', async () => {
    const closed = [proxy, outsider].flatMap((from) => [
      dial(inference, from).then((socket) => {
        const done = readToClose(socket);
        socket.write(from === proxy ? 'PROXY TCP4 203.0.113' : 'PROX');
        return done;
      }),
      dial(inference, from).then(readToClose),
    ]);
    for (const res of await Promise.all(closed)) expect(res.raw).toBe('');
  });
});

describe('proxy_protocol: inference only', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await nodeWith({ trusted_proxies: '127.0.73.0/24', proxy_protocol: 'inference' });
  });
  afterAll(async () => t?.close());

  it('leaves the management listener on X-Forwarded-For from trusted peers', async () => {
    const res = await exchange(t.node.urls.management, '127.0.73.1', [
      httpRequest('/api/v1/whoami', {
        authorization: `Bearer ${t.keys.management}`,
        host: new URL(t.node.urls.management).host,
      }),
    ]);
    expect(res.status, res.raw).toBe(200);
    const header = v1('PROXY TCP4 203.0.113.70 10.0.0.5 1 2');
    const refused = await exchange(t.node.urls.inference, '127.0.73.1', [
      Buffer.concat([header, Buffer.from(httpRequest('/model/io', { authorization: `Bearer ${t.keys.inference}` }))]),
    ]);
    expect(refused.status).toBe(200);
    expect(forwardedFor('/model/io')).toBe('203.0.113.70');
  });
});

describe('proxy_protocol with TLS on the inference listener', () => {
  let t: TestNode;
  beforeAll(async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    const args = '-x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=127.0.0.1';
    execFileSync('openssl', ['req', ...args.split(' '), '-keyout', keyFile, '-out', cert], { stdio: 'ignore' });
    t = await nodeWith({
      inference_address: 'https://127.0.0.1:0',
      certificate_file: cert,
      private_key_file: keyFile,
      trusted_proxies: '127.0.74.0/24',
      proxy_protocol: 'inference',
      proxy_protocol_timeout_ms: '1000',
    });
  }, 60_000);
  afterAll(async () => t?.close());

  /** The header in clear, then TLS over the same connection (as a balancer passing TLS through does). */
  async function overTls(from: string, header: Buffer, path: string): Promise<Exchange> {
    const raw = await dial(t.node.urls.inference, from);
    raw.write(header);
    const secure = tlsConnect({ socket: raw, rejectUnauthorized: false });
    const done = readToClose(secure as unknown as Socket);
    secure.on('secureConnect', () => secure.write(httpRequest(path, { authorization: `Bearer ${t.keys.inference}` })));
    return done;
  }

  it('reads the header before the handshake and names the client', async () => {
    const res = await overTls('127.0.74.1', v2Tcp4('203.0.113.80', 1), '/model/tls-v2');
    expect(res.status, res.raw).toBe(200);
    expect(forwardedFor('/model/tls-v2')).toBe('203.0.113.80');
    const text = await overTls('127.0.74.1', v1('PROXY TCP6 2001:db8::80 ::1 1 2'), '/model/tls-v1');
    expect(text.status, text.raw).toBe(200);
    expect(forwardedFor('/model/tls-v1')).toBe('2001:db8::80');
  });

  it('refuses a header from an untrusted peer and a handshake without one from a trusted peer', async () => {
    const untrusted = await overTls('127.0.75.1', v1('PROXY TCP4 203.0.113.81 10.0.0.5 1 2'), '/model/tls-x');
    expect(untrusted.raw).toBe('');
    const missing = await overTls('127.0.74.2', Buffer.alloc(0), '/model/tls-y');
    expect(missing.raw).toBe('');
    expect(forwardedFor('/model/tls-x')).toBeUndefined();
    expect(forwardedFor('/model/tls-y')).toBeUndefined();
  });
});

describe('proxy_protocol with workers = 2, and the access log', () => {
  let proc: NodeProcess;
  beforeAll(async () => {
    proc = await startNodeProcess([
      '--workers',
      '2',
      '--trusted-proxies',
      '127.0.76.0/24',
      '--proxy-protocol',
      'inference',
    ]);
  }, 90_000);
  afterAll(async () => {
    await proc?.stop();
  });

  it('every worker reads the header: each access line names the client the header gave', async () => {
    const tag = randomBytes(4).toString('hex');
    const count = 8;
    for (let i = 0; i < count; i++) {
      const header = v1(`PROXY TCP4 203.0.113.${100 + i} 10.0.0.5 1 2`);
      const request = httpRequest('/nothing-here/x', { 'x-request-id': `pp-${tag}-${i}` });
      const res = await exchange(proc.urls.inference, '127.0.76.1', [Buffer.concat([header, Buffer.from(request)])]);
      expect(res.status, res.raw).toBe(404);
    }
    const lines = await Promise.all(
      Array.from({ length: count }, (_, i) => proc.waitFor(new RegExp(`"request_id":"pp-${tag}-${i}"`))),
    );
    const parsed = lines.map((line) => JSON.parse(line) as { remote: string; pid: number });
    expect(parsed.map((line) => line.remote)).toEqual(Array.from({ length: count }, (_, i) => `203.0.113.${100 + i}`));
    // node:cluster hands connections to the workers in turn: both served some.
    expect(new Set(parsed.map((line) => line.pid)).size).toBe(2);
  });

  it('logs a refused connection with its peer and reason, never its bytes', async () => {
    const res = await exchange(proc.urls.inference, '127.0.77.1', [v1('PROXY TCP4 203.0.113.99 10.0.0.5 1 2')]);
    expect(res.raw).toBe('');
    const line = JSON.parse(await proc.waitFor(/connection refused: PROXY protocol/));
    expect(line).toMatchObject({ listener: 'inference', peer: '127.0.77.1', reason: 'untrusted_peer' });
    expect(proc.output()).not.toContain('203.0.113.99');
  });
});
