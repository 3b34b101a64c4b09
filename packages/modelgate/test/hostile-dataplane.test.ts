import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call } from './helpers/http.js';
import { deploy as deployOrThrow, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { rawClient } from './helpers/raw-client.js';
import { type RawUpstream, rawUpstream } from './helpers/raw-upstream.js';
import { closedPortUrl } from './helpers/upstreams.js';

/**
 * Hostile tests of the data plane's request handling (issue 7, classes 1, 8, 9, 10, 11), end to
 * end on real sockets. The upstreams are raw TCP servers that record every byte they receive;
 * `ignoring` never reads a body (the smuggling target), `reading` skips bodies by their framing.
 */

/** A complete request that must never reach an upstream: its path and identity are not authorized. */
const SMUGGLED = 'GET /SMUGGLED HTTP/1.1\r\nHost: up\r\nX-Modelgate-Principal: api_key:admin\r\n\r\n';

let t: TestNode;
let ignoring: RawUpstream;
let reading: RawUpstream;
let guardedKey: string;
let readerKey: string;
let downKey: string;
let password: string;

beforeAll(async () => {
  t = await startTestNode({ failure_limit: '1000', base_domain: 'models.test' });
  [ignoring, reading] = await Promise.all([rawUpstream({ readBodies: false }), rawUpstream({ readBodies: true })]);
  const secret = await manage(t, 'POST', '/secrets', { name: 'guarded-password', generate: true });
  password = secret.body.value;
  const deploy = (body: Record<string, unknown>) => deployOrThrow(t, body);
  await deploy({ name: 'open', upstream: ignoring.url, access: 'public' });
  await deploy({ name: 'open-reader', upstream: reading.url, access: 'public' });
  guardedKey = (
    await deploy({
      name: 'guarded',
      upstream: ignoring.url,
      access: 'protected',
      auth: { basic_secret: 'guarded-password', api_keys: true },
      api_keys: 1,
    })
  ).api_keys[0].key;
  readerKey = (await deploy({ name: 'reader', upstream: reading.url, access: 'protected', api_keys: 1 })).api_keys[0]
    .key;
  downKey = (await deploy({ name: 'down', upstream: await closedPortUrl(), access: 'protected', api_keys: 1 }))
    .api_keys[0].key;
});

afterAll(async () => {
  await t?.close();
  await Promise.all([ignoring?.close(), reading?.close()]);
});

beforeEach(() => {
  ignoring.clear();
  reading.clear();
});

const gw = () => t.node.urls.inference;

/** Sends raw bytes on a fresh connection and returns the first response. */
async function exchange(bytes: string | Buffer, options: { bodiless?: boolean } = {}) {
  const client = await rawClient(gw());
  try {
    client.write(bytes);
    return await client.response(options);
  } finally {
    client.destroy();
  }
}

const jsonCode = (body: string): string | undefined => {
  try {
    return JSON.parse(body).error?.code;
  } catch {
    return undefined;
  }
};

/**
 * A legitimate request through the upstream afterwards: it must be the only request the upstream
 * ever parsed, and no smuggled byte may have reached it.
 */
async function expectOnlyTheProbe(upstream: RawUpstream, deployment: string) {
  const res = await call(`${gw()}/${deployment}/probe`);
  expect(res.status).toBe(200);
  expect(upstream.heads.map((h) => h.split('\r\n')[0])).toEqual(['GET /probe HTTP/1.1']);
  expect(upstream.received()).not.toContain('SMUGGLED');
}

describe('1: a body the upstream would ignore never reaches it', () => {
  const methods = ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'TRACE'] as const;

  for (const method of methods) {
    it(`${method} with Content-Length: 400 BODY_NOT_ALLOWED, nothing forwarded`, async () => {
      const res = await exchange(
        `${method} /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
        { bodiless: method === 'HEAD' },
      );
      expect(res.status).toBe(400);
      if (method !== 'HEAD') expect(jsonCode(res.body)).toBe('BODY_NOT_ALLOWED');
      await expectOnlyTheProbe(ignoring, 'open');
    });

    it(`${method} with a chunked body: 400 BODY_NOT_ALLOWED, nothing forwarded`, async () => {
      const chunk = `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
      const res = await exchange(
        `${method} /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`,
        {
          bodiless: method === 'HEAD',
        },
      );
      expect(res.status).toBe(400);
      await expectOnlyTheProbe(ignoring, 'open');
    });
  }

  it('is refused before authentication: 400, not 401, on a protected deployment without a credential', async () => {
    const res = await exchange(`GET /guarded/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello`);
    expect(res.status).toBe(400);
    expect(jsonCode(res.body)).toBe('BODY_NOT_ALLOWED');
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  it('is refused with a valid credential too, and on a WebSocket handshake', async () => {
    const res = await exchange(
      `DELETE /guarded/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${guardedKey}\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    );
    expect(res.status).toBe(400);
    expect(jsonCode(res.body)).toBe('BODY_NOT_ALLOWED');
    const ws = await exchange(
      `GET /open/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    );
    expect(ws.status).toBe(400);
    expect(jsonCode(ws.body)).toBe('BODY_NOT_ALLOWED');
    await expectOnlyTheProbe(ignoring, 'open');
  });

  it('Content-Length: 0 on GET is no body: forwarded as one request', async () => {
    const res = await exchange(`GET /open/empty HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n`);
    expect(res.status).toBe(200);
    expect(ignoring.heads.map((h) => h.split('\r\n')[0])).toEqual(['GET /empty HTTP/1.1']);
  });

  it('a keep-alive caller connection stays in step after a refused body', async () => {
    const client = await rawClient(gw());
    client.write(`GET /open/a HTTP/1.1\r\nHost: h\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`);
    client.write('GET /open/b HTTP/1.1\r\nHost: h\r\n\r\n');
    const first = await client.response();
    const second = await client.response();
    client.destroy();
    expect(first.status).toBe(400);
    expect(second.status).toBe(200);
    expect(ignoring.heads.map((h) => h.split('\r\n')[0])).toEqual(['GET /b HTTP/1.1']);
    expect(ignoring.received()).not.toContain('SMUGGLED');
  });

  it('an upstream that answers before the whole body arrived gets no more of it, and its connection is not reused', async () => {
    const client = await rawClient(gw());
    const head = `POST /open/upload HTTP/1.1\r\nHost: h\r\nContent-Length: ${10 + SMUGGLED.length}\r\n\r\n`;
    client.write(`${head}aaaaaaaaaa`);
    const early = await client.response();
    expect(early.status).toBe(200);
    // The caller goes on uploading after the answer: the rest is a complete request.
    client.write(SMUGGLED);
    client.write('GET /open/after HTTP/1.1\r\nHost: h\r\n\r\n');
    const after = await client.response();
    client.destroy();
    expect(after.status).toBe(200);
    expect(ignoring.heads.map((h) => h.split('\r\n')[0])).toEqual(['POST /upload HTTP/1.1', 'GET /after HTTP/1.1']);
    expect(ignoring.received()).not.toContain('SMUGGLED');
    // undici destroyed the first upstream connection: the second request needed a new one.
    expect(ignoring.headConnections[0]).not.toBe(ignoring.headConnections[1]);
  });

  it('an upstream that answers early and ends its answer only after the rest of the body came: its connection is not reused', async () => {
    // Answers a POST at its head and ends that answer when more bytes arrive (bytes it never
    // parses as a body); answers a GET at once. undici alone would pool the connection again.
    let connections = 0;
    const probes: number[] = [];
    const server = createServer((socket) => {
      const connection = ++connections;
      socket.on('error', () => socket.destroy());
      socket.on('data', (data: Buffer) => {
        const text = data.toString('latin1');
        if (text.startsWith('GET ')) {
          probes.push(connection);
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        } else if (text.startsWith('POST ')) {
          socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nearly\r\n');
        } else {
          socket.write('0\r\n\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await deployOrThrow(t, {
        name: 'early',
        upstream: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        access: 'public',
      });
      const client = await rawClient(gw());
      client.write('POST /early/x HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\nbody');
      await client.received('early');
      client.write('rest');
      const res = await client.response();
      client.destroy();
      expect(res.status).toBe(200);
      expect((await call(`${gw()}/early/probe`)).status).toBe(200);
      expect(probes).toEqual([2]);
    } finally {
      server.close();
    }
  });

  const framing: Record<string, string> = {
    'Content-Length with Transfer-Encoding': `POST /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'Transfer-Encoding with Content-Length': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'two different Content-Length': `POST /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    'a Content-Length list': `POST /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: 0, ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    'Transfer-Encoding folded (obs-fold)': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'an obs-fold continuation line': `GET /open/x HTTP/1.1\r\nHost: h\r\nX-A: a\r\n Content-Length: 5\r\n\r\n${SMUGGLED}`,
    'bare LF line ends': `GET /open/x HTTP/1.1\nHost: h\nContent-Length: ${SMUGGLED.length}\n\n${SMUGGLED}`,
    'a bare LF between headers': `GET /open/x HTTP/1.1\r\nHost: h\nTransfer-Encoding: chunked\r\n\r\n${SMUGGLED}`,
    'a header name with a space': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'Transfer-Encoding: xchunked': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'Transfer-Encoding: chunked, identity': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'two Transfer-Encoding headers': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    'a chunk size ended by bare LF': `POST /open/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\n${SMUGGLED}`,
    'a NUL in a header value': `GET /open/x HTTP/1.1\r\nHost: h\r\nX-A: a\u0000b\r\n\r\n${SMUGGLED}`,
    'a signed Content-Length': `POST /open/x HTTP/1.1\r\nHost: h\r\nContent-Length: +4\r\n\r\nabcd${SMUGGLED}`,
  };
  for (const [name, bytes] of Object.entries(framing)) {
    it(`framing trick refused with 400 and nothing forwarded: ${name}`, async () => {
      const res = await exchange(bytes);
      expect(res.status).toBe(400);
      await expectOnlyTheProbe(ignoring, 'open');
    });
  }

  const chunked = `${SMUGGLED.length.toString(16)};ext=1\r\n${SMUGGLED}\r\n0\r\n\r\n`;
  const reframed: Record<string, string> = {
    'a chunked POST with a chunk extension': `POST /open-reader/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    'Transfer-Encoding: CHUNKED': `POST /open-reader/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n${chunked}`,
    'chunked on HTTP/1.0': `POST /open-reader/x HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    'Connection naming Content-Length': `POST /open-reader/x HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, Transfer-Encoding\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
  };
  for (const [name, bytes] of Object.entries(reframed)) {
    it(`re-framed by the gateway, the upstream sees exactly one request: ${name}`, async () => {
      const res = await exchange(bytes);
      expect(res.status).toBe(200);
      expect(reading.heads).toHaveLength(1);
      expect(reading.heads[0]?.split('\r\n')[0]).toBe('POST /x HTTP/1.1');
      expect(reading.heads[0]).not.toContain('ext=1');
      // The smuggled text arrived once, inside the body of the authorized request.
      expect(reading.received().split('SMUGGLED')).toHaveLength(2);
    });
  }

  it('absolute-form and fragment targets are refused, whatever Host says', async () => {
    for (const target of ['http://open.models.test/x', 'http://h/open/x', '/open/x#frag', '*']) {
      const res = await exchange(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`);
      expect(res.status, target).toBe(400);
    }
    await expectOnlyTheProbe(ignoring, 'open');
  });
});

describe('8: duplicated routing and framing headers are 400', () => {
  const variants: Record<string, string> = {
    'two equal Host headers': 'Host: h\r\nHost: h',
    'two different Host headers': 'Host: h\r\nHost: evil.example',
    'Host in another case': 'Host: h\r\nhOST: other',
    'two Host headers naming deployments': 'Host: open.models.test\r\nHost: guarded.models.test',
    'an empty second Host': 'Host: open.models.test\r\nHost: ',
  };
  for (const [name, headers] of Object.entries(variants)) {
    it(`${name}: 400 HEADER_DUPLICATED, nothing forwarded`, async () => {
      const res = await exchange(`GET /open/x HTTP/1.1\r\n${headers}\r\n\r\n`);
      expect(res.status).toBe(400);
      expect(jsonCode(res.body)).toBe('HEADER_DUPLICATED');
      await expectOnlyTheProbe(ignoring, 'open');
    });
  }

  it('is decided before authentication and also on a host-routed WebSocket handshake', async () => {
    const res = await exchange('GET /x HTTP/1.1\r\nHost: guarded.models.test\r\nHost: open.models.test\r\n\r\n');
    expect(res.status).toBe(400);
    expect(jsonCode(res.body)).toBe('HEADER_DUPLICATED');
    const ws = await exchange(
      'GET /open/ws HTTP/1.1\r\nHost: h\r\nHost: other\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(ws.status).toBe(400);
    expect(jsonCode(ws.body)).toBe('HEADER_DUPLICATED');
  });

  it('two Authorization headers stay 401 CREDENTIAL_AMBIGUOUS, even when one is valid', async () => {
    const res = await exchange(
      `GET /guarded/x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer ${guardedKey}\r\nAuthorization: Bearer mgk_x\r\n\r\n`,
    );
    expect(res.status).toBe(401);
    expect(jsonCode(res.body)).toBe('CREDENTIAL_AMBIGUOUS');
    expect(ignoring.heads).toHaveLength(0);
  });

  it('one Host routes normally (control)', async () => {
    const res = await exchange('GET /x HTTP/1.1\r\nHost: open.models.test\r\n\r\n');
    expect(res.status).toBe(200);
    expect(ignoring.heads).toHaveLength(1);
  });

  it('a WebSocket client with one Host is not refused by the duplicate rule', async () => {
    const socket = new WebSocket(`${gw().replace('http', 'ws')}/guarded/ws`);
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      socket.on('error', () => resolve(0));
    });
    expect(status).toBe(401);
  });
});

describe('9: Unicode look-alikes of . and / never reach the upstream', () => {
  const refused: Record<string, string> = {
    'fullwidth full stops (U+FF0E)': '/open/%EF%BC%8E%EF%BC%8E/guarded/x',
    'one-dot leaders (U+2024)': '/open/a/%E2%80%A4%E2%80%A4/x',
    'a two-dot leader (U+2025)': '/open/a/%E2%80%A5/x',
    'a two-dot leader as the last segment': '/open/a/%E2%80%A5',
    'small full stops (U+FE52)': '/open/a/%EF%B9%92%EF%B9%92/x',
    'a mix of dot look-alikes': '/open/a/.%EF%BC%8E/x',
    'one fullwidth dot (U+FF0E)': '/open/a/%EF%BC%8E/x',
    'a two-dot leader with a path parameter': '/open/a/%E2%80%A5;jsessionid=1/x',
    'a fullwidth solidus (U+FF0F)': '/open/a%EF%BC%8F..%EF%BC%8Fguarded/x',
    'a fullwidth reverse solidus (U+FF3C)': '/open/a%EF%BC%BC..%EF%BC%BCx',
    'a small reverse solidus (U+FE68)': '/open/%EF%B9%A8x',
    'account of (U+2100, NFKC a/c)': '/open/%E2%84%80/x',
    'fullwidth percent-encoded dots (NFKC %2e%2e)': '/open/%EF%BC%85%EF%BC%92%EF%BD%85%EF%BC%85%EF%BC%92%EF%BD%85/x',
    'double-encoded fullwidth dots': '/open/%25EF%25BC%258E%25EF%25BC%258E/x',
    'double-encoded two-dot leader': '/open/%25E2%2580%25A5/x',
    'lowercase hex fullwidth dots': '/open/%ef%bc%8e%ef%bc%8e/x',
  };
  for (const [name, path] of Object.entries(refused)) {
    it(`${name}: 400 PATH_INVALID`, async () => {
      const res = await exchange(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
      expect(res.status).toBe(400);
      expect(jsonCode(res.body)).toBe('PATH_INVALID');
      await expectOnlyTheProbe(ignoring, 'open');
    });
  }

  it('raw (unencoded) UTF-8 look-alikes are refused too', async () => {
    for (const look of ['\uFF0E\uFF0E', '\u2025', '\uFF0F']) {
      const line = Buffer.concat([
        Buffer.from('GET /open/'),
        Buffer.from(look, 'utf8'),
        Buffer.from('/x HTTP/1.1\r\nHost: h\r\n\r\n'),
      ]);
      const res = await exchange(line);
      expect(res.status).toBe(400);
    }
    await expectOnlyTheProbe(ignoring, 'open');
  });

  const allowed: Record<string, string> = {
    'an accented letter (NFKC é)': '/open/caf%C3%A9',
    'an ellipsis (NFKC ..., not a dot segment)': '/open/a/%E2%80%A6/x',
    'a division slash (U+2215, unchanged by NFKC)': '/open/a%E2%88%95b',
    'a fullwidth letter (NFKC a)': '/open/%EF%BD%81',
    'a dot inside a name': '/open/model.v1%EF%BC%8Ejson',
  };
  for (const [name, path] of Object.entries(allowed)) {
    it(`forwarded verbatim: ${name}`, async () => {
      const res = await exchange(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
      expect(res.status).toBe(200);
      expect(ignoring.heads[0]?.split('\r\n')[0]).toBe(`GET ${path.slice('/open'.length)} HTTP/1.1`);
    });
  }
});

describe('10: a Basic password is compared on its exact bytes', () => {
  const basic = (user: string, pass: string | Buffer) =>
    `Basic ${Buffer.concat([Buffer.from(`${user}:`), Buffer.isBuffer(pass) ? pass : Buffer.from(pass)]).toString('base64')}`;
  const get = (deployment: string, authorization: string) =>
    call(`${gw()}/${deployment}/x`, { headers: { authorization } });

  it('trailing NULs do not match, also after the real password was cached', async () => {
    expect((await get('guarded', basic('modelgate', password))).status).toBe(200);
    for (const variant of [`${password}\u0000`, `${password}\u0000\u0000`, `${password}\u0000x`, `\u0000${password}`]) {
      const res = await get('guarded', basic('modelgate', variant));
      expect(res.status, JSON.stringify(variant)).toBe(401);
      expect(res.json.error.code).toBe('CREDENTIAL_UNKNOWN');
    }
    expect((await get('guarded', basic('modelgate\u0000', password))).status).toBe(401);
    expect((await get('guarded', basic('modelgate', password))).status).toBe(200);
  });

  it('a NUL-padded password is refused before the real one was ever used (no cache involved)', async () => {
    await manage(t, 'POST', '/secrets', { name: 'fresh-password', generate: true }).then(async (s) => {
      await manage(t, 'POST', '/deployments', {
        name: 'fresh',
        upstream: reading.url,
        access: 'protected',
        auth: { basic_secret: 'fresh-password' },
      });
      expect((await get('fresh', basic('modelgate', `${s.body.value}\u0000`))).status).toBe(401);
      expect((await get('fresh', basic('modelgate', `${s.body.value}\u0000\u0000\u0000`))).status).toBe(401);
      expect((await get('fresh', basic('modelgate', s.body.value))).status).toBe(200);
    });
  });

  it('invalid UTF-8 after the password is malformed, never a lossy match', async () => {
    for (const tail of [[0xff], [0xc0, 0xae], [0xed, 0xa0, 0x80]]) {
      const res = await get('guarded', basic('modelgate', Buffer.concat([Buffer.from(password), Buffer.from(tail)])));
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('CREDENTIAL_MALFORMED');
    }
  });
});

describe('11: Expect: 100-continue is answered only after admission', () => {
  const expectHead = (path: string, extra = '') =>
    `POST ${path} HTTP/1.1\r\nHost: h\r\n${extra}Content-Type: text/plain\r\nContent-Length: ${SMUGGLED.length}\r\nExpect: 100-continue\r\n\r\n`;

  /** Sends the head, checks the first answer is final, then sends the body anyway. */
  async function refusedWithoutContinue(head: string, status: number, code: string) {
    const client = await rawClient(gw());
    client.write(head);
    const first = await client.response();
    expect(first.status).toBe(status);
    expect(jsonCode(first.body)).toBe(code);
    // A final answer without 100: the connection is closed, so a body sent anyway is never read.
    expect(first.headers.connection).toBe('close');
    client.write(SMUGGLED);
    const all = await client.closed();
    expect(all).not.toContain('100 Continue');
  }

  it('no credential: 401 without 100 Continue, nothing forwarded', async () => {
    await refusedWithoutContinue(expectHead('/reader/x'), 401, 'CREDENTIAL_MISSING');
    await expectOnlyTheProbe(reading, 'open-reader');
  });

  it('another deployment’s key, a malformed key and a wrong Basic password: refused without 100 Continue', async () => {
    // A key of another deployment is a valid credential without access here.
    await refusedWithoutContinue(expectHead('/reader/x', `Authorization: Bearer ${guardedKey}\r\n`), 403, 'FORBIDDEN');
    await refusedWithoutContinue(
      expectHead('/reader/x', 'Authorization: Bearer mgk_nope\r\n'),
      401,
      'CREDENTIAL_MALFORMED',
    );
    await refusedWithoutContinue(
      expectHead('/guarded/x', `Authorization: Basic ${Buffer.from('modelgate:wrong').toString('base64')}\r\n`),
      401,
      'CREDENTIAL_UNKNOWN',
    );
    await expectOnlyTheProbe(reading, 'open-reader');
  });

  it('an unknown deployment, a bad path and a body on GET: refused without 100 Continue', async () => {
    await refusedWithoutContinue(expectHead('/nowhere/x'), 404, 'DEPLOYMENT_NOT_FOUND');
    await refusedWithoutContinue(expectHead('/reader/%2e%2e/open/x'), 400, 'PATH_INVALID');
    await refusedWithoutContinue(
      `GET /open-reader/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`,
      400,
      'BODY_NOT_ALLOWED',
    );
    await expectOnlyTheProbe(reading, 'open-reader');
  });

  it('admitted but the upstream is down: 502, the body was never asked for', async () => {
    await refusedWithoutContinue(
      expectHead('/down/x', `Authorization: Bearer ${downKey}\r\n`),
      502,
      'UPSTREAM_UNAVAILABLE',
    );
  });

  it('admitted: 100 Continue, then the body reaches the upstream as part of exactly one request', async () => {
    const client = await rawClient(gw());
    client.write(expectHead('/reader/x', `Authorization: Bearer ${readerKey}\r\n`));
    const interim = await client.response();
    expect(interim.status).toBe(100);
    client.write(SMUGGLED);
    const final = await client.response();
    client.destroy();
    expect(final.status).toBe(200);
    expect(reading.heads).toHaveLength(1);
    expect(reading.heads[0]?.split('\r\n')[0]).toBe('POST /x HTTP/1.1');
    expect(reading.heads[0]).not.toMatch(/\r\nexpect:/i);
    // The body arrived once, as the body of the authorized request.
    expect(reading.received().split('SMUGGLED')).toHaveLength(2);
  });

  it('a public deployment also answers 100 Continue only when forwarding', async () => {
    const client = await rawClient(gw());
    client.write(expectHead('/open-reader/y'));
    expect((await client.response()).status).toBe(100);
    client.write(SMUGGLED);
    expect((await client.response()).status).toBe(200);
    client.destroy();
    expect(reading.heads).toHaveLength(1);
  });
});
