import { describe, expect, it } from 'vitest';
import {
  downstreamResponseHeaderList,
  downstreamResponseHeaders,
  setListHeader,
  type UpstreamHeaderContext,
  upstreamRequestHeaderList,
  upstreamRequestHeaders,
} from '../src/dataplane/headers.js';
import { joinUpstreamPath, parseUpstream, upstreamErrorCode } from '../src/dataplane/proxy.js';

const ctx: UpstreamHeaderContext = {
  clientIp: '10.0.0.7',
  proto: 'https',
  host: 'gw.example.com',
  deployment: 'demo',
  principal: 'apikey:k1',
  requestId: 'req-1',
  forwardCredential: false,
  upstreamHost: '127.0.0.1:9000',
};

type Headers = Record<string, string | string[] | undefined>;

describe('upstreamRequestHeaders', () => {
  const cases: ReadonlyArray<{
    name: string;
    incoming: Headers;
    ctx?: Partial<UpstreamHeaderContext>;
    present?: Record<string, string | string[]>;
    absent?: string[];
  }> = [
    {
      name: 'end-to-end headers pass, gateway headers are added',
      incoming: { host: 'gw.example.com', accept: 'application/json', 'content-type': 'text/plain', 'x-custom': 'v' },
      present: {
        accept: 'application/json',
        'content-type': 'text/plain',
        'x-custom': 'v',
        host: '127.0.0.1:9000',
        'x-forwarded-for': '10.0.0.7',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'gw.example.com',
        'x-modelgate-deployment': 'demo',
        'x-modelgate-principal': 'apikey:k1',
        'x-request-id': 'req-1',
      },
    },
    {
      name: 'hop-by-hop headers are removed',
      incoming: {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'keep-alive',
        te: 'trailers',
        trailer: 'x-checksum',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic eDp5',
        'proxy-authenticate': 'Basic',
        expect: '100-continue',
      },
      absent: [
        'connection',
        'keep-alive',
        'proxy-connection',
        'te',
        'trailer',
        'transfer-encoding',
        'upgrade',
        'proxy-authorization',
        'proxy-authenticate',
        'expect',
      ],
    },
    {
      name: 'headers named in Connection are removed',
      incoming: { connection: 'close, X-Secret-Hop ,x-other', 'x-secret-hop': '1', 'x-other': '2', 'x-kept': '3' },
      present: { 'x-kept': '3' },
      absent: ['x-secret-hop', 'x-other', 'connection'],
    },
    {
      name: 'Connection naming a gateway header cannot remove the gateway value',
      incoming: { connection: 'x-modelgate-principal, x-modelgate-deployment, x-request-id, x-forwarded-for' },
      present: {
        'x-modelgate-principal': 'apikey:k1',
        'x-modelgate-deployment': 'demo',
        'x-request-id': 'req-1',
        'x-forwarded-for': '10.0.0.7',
      },
    },
    {
      name: 'Authorization is stripped by default',
      incoming: { authorization: 'Bearer mgk_secret', cookie: 'a=1' },
      present: { cookie: 'a=1' },
      absent: ['authorization'],
    },
    {
      name: 'Authorization is forwarded when the deployment asks',
      incoming: { authorization: 'Bearer mgk_secret' },
      ctx: { forwardCredential: true },
      present: { authorization: 'Bearer mgk_secret' },
    },
    {
      name: 'Authorization in another case is stripped too',
      incoming: { Authorization: 'Bearer a', AUTHORIZATION: 'Bearer b' },
      absent: ['authorization', 'Authorization', 'AUTHORIZATION'],
    },
    {
      name: 'Proxy-Authorization is never forwarded, even with forwardCredential',
      incoming: { 'proxy-authorization': 'Basic eDp5' },
      ctx: { forwardCredential: true },
      absent: ['proxy-authorization'],
    },
    {
      name: 'spoofed gateway headers in any case are dropped and replaced',
      incoming: {
        'x-modelgate-principal': 'admin',
        'X-Modelgate-Principal': 'admin',
        'X-MODELGATE-PRINCIPAL': 'admin',
        'x-modelgate-deployment': 'other',
        'x-modelgate-anything': 'x',
        'X-ModelGate-Admin': 'true',
      },
      present: { 'x-modelgate-principal': 'apikey:k1', 'x-modelgate-deployment': 'demo' },
      absent: ['x-modelgate-anything', 'x-modelgate-admin', 'X-Modelgate-Principal', 'X-MODELGATE-PRINCIPAL'],
    },
    {
      name: 'no principal header for an anonymous call, even a spoofed one',
      incoming: { 'x-modelgate-principal': 'admin' },
      ctx: { principal: undefined },
      absent: ['x-modelgate-principal'],
    },
    {
      name: 'X-Forwarded-For appends to the existing list',
      incoming: { 'x-forwarded-for': '203.0.113.1, 198.51.100.2' },
      present: { 'x-forwarded-for': '203.0.113.1, 198.51.100.2, 10.0.0.7' },
    },
    {
      name: 'X-Forwarded-For given twice (array) is joined in order',
      incoming: { 'X-Forwarded-For': '203.0.113.1', 'x-forwarded-for': ['198.51.100.2'] },
      present: { 'x-forwarded-for': '203.0.113.1, 198.51.100.2, 10.0.0.7' },
    },
    {
      name: 'X-Forwarded-Proto and -Host are set, not trusted',
      incoming: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'gw.example.com' },
      ctx: { proto: 'http' },
      present: { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'gw.example.com', host: '127.0.0.1:9000' },
    },
    {
      name: 'client X-Request-Id is replaced by the gateway id',
      incoming: { 'x-request-id': 'spoof' },
      present: { 'x-request-id': 'req-1' },
    },
    {
      name: 'Forwarded gets this hop appended when present',
      incoming: { forwarded: 'for=203.0.113.1' },
      ctx: { clientIp: '::1' },
      present: { forwarded: 'for=203.0.113.1, for="[::1]";proto=https;host=gw.example.com' },
    },
    {
      name: 'WebSocket handshake keeps Connection: Upgrade and Upgrade: websocket',
      incoming: {
        connection: 'keep-alive, Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        'sec-websocket-protocol': 'chat',
      },
      ctx: { websocket: true },
      present: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        'sec-websocket-protocol': 'chat',
      },
    },
    {
      name: 'multi-valued headers stay arrays',
      incoming: { 'set-cookie': ['a=1', 'b=2'] },
      present: { 'set-cookie': ['a=1', 'b=2'] },
    },
    {
      name: 'HTTP/2 pseudo-headers are never forwarded',
      incoming: { ':path': '/other', ':authority': 'x' },
      absent: [':path', ':authority'],
    },
    {
      name: 'a principal that is not plain ASCII is percent-encoded',
      incoming: {},
      ctx: { principal: 'user:zoë\r\nx: y' },
      present: { 'x-modelgate-principal': 'user%3Azo%C3%AB%0D%0Ax%3A%20y' },
    },
  ];

  it.each(cases)('$name', ({ incoming, ctx: overrides, present = {}, absent = [] }) => {
    const out = upstreamRequestHeaders(incoming, { ...ctx, ...overrides });
    for (const [name, value] of Object.entries(present)) expect(out[name], name).toEqual(value);
    for (const name of absent) expect(out[name], name).toBeUndefined();
    for (const name of Object.keys(out)) expect(name).toBe(name.toLowerCase());
    expect(
      Object.keys(out)
        .filter((n) => n.startsWith('x-modelgate-'))
        .sort(),
    ).toEqual(
      (overrides && 'principal' in overrides && overrides.principal === undefined
        ? ['x-modelgate-deployment']
        : ['x-modelgate-deployment', 'x-modelgate-principal']
      ).sort(),
    );
  });

  it('a header called __proto__ cannot pollute the result', () => {
    const incoming = JSON.parse('{"__proto__": "x", "a": "1"}') as Headers;
    const out = upstreamRequestHeaders(incoming, ctx);
    expect(out.a).toBe('1');
    expect(Object.getPrototypeOf(out)).toBe(null);
  });
});

describe('downstreamResponseHeaders', () => {
  it.each<[string, Headers, Record<string, string | string[]>, string[]]>([
    [
      'hop-by-hop removed, the rest kept',
      {
        connection: 'keep-alive, x-hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        trailer: 'x-sum',
        upgrade: 'h2c',
        'proxy-authenticate': 'Basic',
        'x-hop': '1',
        'content-type': 'text/event-stream',
        'set-cookie': ['a=1', 'b=2'],
        'x-modelgate-info': 'upstream may send these',
      },
      {
        'content-type': 'text/event-stream',
        'set-cookie': ['a=1', 'b=2'],
        'x-modelgate-info': 'upstream may send these',
      },
      ['connection', 'keep-alive', 'transfer-encoding', 'trailer', 'upgrade', 'proxy-authenticate', 'x-hop'],
    ],
    ['content-length passes', { 'content-length': '12' }, { 'content-length': '12' }, []],
  ])('%s', (_name, upstream, present, absent) => {
    const out = downstreamResponseHeaders(upstream);
    for (const [name, value] of Object.entries(present)) expect(out[name], name).toEqual(value);
    for (const name of absent) expect(out[name], name).toBeUndefined();
  });
});

describe('header lists (the hot path’s form)', () => {
  it('the upstream request list holds what the object holds, each name once', () => {
    const incoming: Headers = {
      host: 'gw.example.com',
      accept: 'application/json',
      'x-forwarded-for': ['1.1.1.1', ' 2.2.2.2 '],
      forwarded: 'for=1.1.1.1',
      connection: 'x-private',
      'x-private': 'dropped',
      authorization: 'Bearer secret',
    };
    const list = upstreamRequestHeaderList(incoming, ctx);
    const names = list.filter((_, i) => i % 2 === 0);
    expect(new Set(names).size).toBe(names.length);
    expect(Object.fromEntries(names.map((n, i) => [n, list[2 * i + 1]]))).toEqual({
      ...upstreamRequestHeaders(incoming, ctx),
    });
    expect(names).not.toContain('authorization');
    expect(names).not.toContain('x-private');
    expect(list[list.indexOf('x-forwarded-for') + 1]).toBe('1.1.1.1, 2.2.2.2, 10.0.0.7');
  });

  it('a repeated response field is one name with every value, in order (Set-Cookie)', () => {
    const raw = ['Set-Cookie', 'a=1', 'Content-Type', 'text/plain', 'set-cookie', 'b=2'].map((v) => Buffer.from(v));
    expect(downstreamResponseHeaderList(raw)).toEqual(['set-cookie', ['a=1', 'b=2'], 'content-type', 'text/plain']);
  });

  it('a field the upstream names in Connection is dropped; bytes pass as latin1', () => {
    const raw = [
      Buffer.from('Connection'),
      Buffer.from('keep-alive, X-Hop'),
      Buffer.from('x-hop'),
      Buffer.from('1'),
      Buffer.from('x-name'),
      Buffer.from([0x7a, 0xe9]),
    ];
    expect(downstreamResponseHeaderList(raw)).toEqual(['x-name', 'z\u00e9']);
  });

  it('setListHeader replaces every value of a field, or appends it', () => {
    const list = downstreamResponseHeaderList(['x-request-id', 'upstream', 'a', '1']);
    setListHeader(list, 'x-request-id', 'ours');
    setListHeader(list, 'b', '2');
    expect(list).toEqual(['x-request-id', 'ours', 'a', '1', 'b', '2']);
  });
});

describe('upstream URL handling', () => {
  it.each([
    ['', '/x?q=1', '/x?q=1'],
    ['/v1', '/x?q=1', '/v1/x?q=1'],
    ['/v1/', '/x', '/v1/x'],
    ['/v1', '/', '/v1/'],
    ['/v1', 'x', '/v1/x'],
  ])('join %j + %j → %j', (base, rest, joined) => {
    expect(joinUpstreamPath(base, rest)).toBe(joined);
  });

  it.each([
    ['http://127.0.0.1:9000', { origin: 'http://127.0.0.1:9000', basePath: '', secure: false }],
    ['http://127.0.0.1:9000/', { origin: 'http://127.0.0.1:9000', basePath: '', secure: false }],
    ['http://127.0.0.1:9000/base/', { origin: 'http://127.0.0.1:9000', basePath: '/base', secure: false }],
    ['https://models.internal/v1', { origin: 'https://models.internal', basePath: '/v1', secure: true }],
    ['ws://[::1]:81/x', { origin: 'http://[::1]:81', basePath: '/x', secure: false }],
    ['http://h:80/a', { origin: 'http://h', basePath: '/a', secure: false }],
  ])('parse %j', (url, parsed) => {
    expect(parseUpstream(url)).toEqual(parsed);
  });

  it.each(['ftp://x/', 'file:///etc/passwd', 'not a url'])('refuses %j', (url) => {
    expect(() => parseUpstream(url)).toThrow();
  });
});

describe('upstreamErrorCode', () => {
  const err = (code: string) => Object.assign(new Error(code), { code });
  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'UPSTREAM_TIMEOUT'],
    ['UND_ERR_HEADERS_TIMEOUT', 'UPSTREAM_TIMEOUT'],
    ['UND_ERR_BODY_TIMEOUT', 'UPSTREAM_TIMEOUT'],
    ['ETIMEDOUT', 'UPSTREAM_TIMEOUT'],
    ['ECONNREFUSED', 'UPSTREAM_UNAVAILABLE'],
    ['ENOTFOUND', 'UPSTREAM_UNAVAILABLE'],
    ['EAI_AGAIN', 'UPSTREAM_UNAVAILABLE'],
    ['ECONNRESET', 'UPSTREAM_UNAVAILABLE'],
    ['UND_ERR_SOCKET', 'UPSTREAM_UNAVAILABLE'],
    ['HPE_INVALID_CONSTANT', 'UPSTREAM_UNAVAILABLE'],
    ['UND_ERR_INVALID_ARG', 'UPSTREAM_UNAVAILABLE'],
  ])('%s → %s', (code, expected) => {
    expect(upstreamErrorCode(err(code))).toBe(expected);
  });

  it.each([undefined, null, 'boom', 42])('%j → UPSTREAM_UNAVAILABLE', (value) => {
    expect(upstreamErrorCode(value)).toBe('UPSTREAM_UNAVAILABLE');
  });
});
