import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { parseTrustedProxies, type TrustedProxies } from '../src/config/trusted-proxies.js';
import { forwardedClient } from '../src/http/client-address.js';
import { generateCredential } from '../src/kernel/credential.js';
import { call } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Behind a load balancer (issue 10): the client address comes from `X-Forwarded-For` only when
 * the TCP peer is in `trusted_proxies`. Each test uses loopback addresses of its own (127.x.y.z
 * all reach the node on Linux) so lockouts never leak between tests.
 */

const LIMIT = 4;
const guess = () => `Bearer ${generateCredential('api_key')}`;

function trusted(text: string): TrustedProxies {
  const parsed = parseTrustedProxies(text);
  if ('problems' in parsed) throw new Error(parsed.problems.join('; '));
  return parsed;
}

describe('trusted_proxies: the list', () => {
  it('accepts IPv4 and IPv6 blocks and single addresses, and matches IPv4-mapped peers', () => {
    const list = trusted('10.0.0.0/8, 2001:db8::/32 192.0.2.7');
    expect(list.has('10.200.3.4')).toBe(true);
    expect(list.has('::ffff:10.1.2.3')).toBe(true);
    expect(list.has('2001:db8:1::5')).toBe(true);
    expect(list.has('192.0.2.7')).toBe(true);
    expect(list.has('192.0.2.8')).toBe(false);
    expect(list.has('11.0.0.1')).toBe(false);
    expect(list.has('2001:db9::1')).toBe(false);
    expect(list.has('not an address')).toBe(false);
  });

  it('is validated with the config, every bad entry reported at once', () => {
    const result = resolveConfig({
      cli: { trusted_proxies: '10.0.0.0/33, example.com, 10.0.0.0/8/1, ::1/129, 1.2.3.4/x' },
    });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems.filter((p) => p.startsWith('trusted_proxies'));
    expect(problems).toHaveLength(5);
  });

  it('defaults to nothing trusted', () => {
    const result = resolveConfig({});
    expect(result.ok && result.config.trusted_proxies).toBe('');
  });
});

describe('forwardedClient: which hop is the client', () => {
  const lb = trusted('10.0.0.0/8, fd00::/8');
  it.each([
    ['untrusted peer: the header is ignored', '203.0.113.5', '198.51.100.1', '203.0.113.5'],
    ['trusted peer, one hop', '10.0.0.2', '198.51.100.1', '198.51.100.1'],
    ['right-most untrusted hop wins over a spoofed left part', '10.0.0.2', '1.1.1.1, 198.51.100.1', '198.51.100.1'],
    ['trusted hops are skipped', '10.0.0.2', '6.6.6.6, 198.51.100.1, 10.1.1.1, 10.2.2.2', '198.51.100.1'],
    ['all hops trusted: the left-most', '10.0.0.2', '10.1.1.1, 10.2.2.2', '10.1.1.1'],
    ['IPv6 hop', 'fd00::1', '2001:DB8::9', '2001:db8::9'],
    ['hop with a port', '10.0.0.2', '198.51.100.1:4711', '198.51.100.1'],
    ['bracketed IPv6 hop with a port', '10.0.0.2', '[2001:db8::9]:443', '2001:db8::9'],
    ['header given twice', '10.0.0.2', ['6.6.6.6', '198.51.100.1'], '198.51.100.1'],
    ['malformed right-most hop: the peer', '10.0.0.2', 'not-an-ip', '10.0.0.2'],
    ['malformed hop behind a trusted one: that trusted hop', '10.0.0.2', 'junk, 10.3.3.3', '10.3.3.3'],
    ['empty header: the peer', '10.0.0.2', '', '10.0.0.2'],
    ['only commas: the peer', '10.0.0.2', ' , ,', '10.0.0.2'],
    ['unclosed bracket: the peer', '10.0.0.2', '[2001:db8::9', '10.0.0.2'],
    ['five octets: the peer', '10.0.0.2', '1.2.3.4.5', '10.0.0.2'],
    ['no header: the peer', '10.0.0.2', undefined, '10.0.0.2'],
    [
      'only the last 32 hops are read',
      '10.0.0.2',
      ['198.51.100.1', ...Array.from({ length: 31 }, (_, i) => `10.9.0.${i}`), '10.9.9.9'].join(', '),
      '10.9.0.0',
    ],
  ] as const)('%s', (_name, peer, header, expected) => {
    expect(forwardedClient(peer, header as string | string[] | undefined, lb)).toBe(expected);
  });
});

let up: TestUpstream;
beforeAll(async () => {
  up = await recordingUpstream('model');
});
afterAll(async () => {
  await up?.close();
});

/** A node with one protected deployment `model`. */
async function nodeWith(overrides: Record<string, string>): Promise<TestNode> {
  const t = await startTestNode({ failure_limit: String(LIMIT), failure_window_s: '60', ...overrides });
  const deployed = await manage(t, 'POST', '/deployments', { name: 'model', upstream: up.url, access: 'protected' });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  return t;
}

const predict = (t: TestNode, authorization: string, from: string, xff?: string) =>
  call(`${t.node.urls.inference}/model/x`, {
    headers: { authorization, ...(xff === undefined ? {} : { 'x-forwarded-for': xff }) },
    localAddress: from,
  });

const whoami = (t: TestNode, authorization: string, from: string, xff?: string) =>
  call(`${t.node.urls.management}/api/v1/whoami`, {
    headers: { authorization, ...(xff === undefined ? {} : { 'x-forwarded-for': xff }) },
    localAddress: from,
  });

describe('without trusted_proxies, X-Forwarded-For changes nothing', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await nodeWith({});
  });
  afterAll(async () => t?.close());

  it('a fresh spoofed address per guess does not escape the data-plane lock', async () => {
    const from = '127.0.40.1';
    for (let i = 0; i < LIMIT; i++) expect((await predict(t, guess(), from, `198.51.100.${i + 1}`)).status).toBe(401);
    const locked = await predict(t, `Bearer ${t.keys.inference}`, from, '198.51.100.200');
    expect(locked.status).toBe(429);
    expect(locked.json.error.code).toBe('THROTTLED');
    // The upstream still learns the real peer (appended last), and another address is unaffected.
    expect((await predict(t, `Bearer ${t.keys.inference}`, '127.0.40.2', '198.51.100.9')).status).toBe(200);
    expect(up.hits.at(-1)?.headers['x-forwarded-for']).toBe('198.51.100.9, 127.0.40.2');
  });

  it('a fresh spoofed address per guess does not escape the management lock', async () => {
    const from = '127.0.40.3';
    for (let i = 0; i < LIMIT; i++) expect((await whoami(t, guess(), from, `198.51.100.${i + 1}`)).status).toBe(401);
    expect((await whoami(t, `Bearer ${t.keys.management}`, from, '198.51.100.77')).status).toBe(429);
  });
});

describe('with trusted_proxies, clients behind the proxy are told apart', () => {
  let t: TestNode;
  const proxy = '127.0.50.1';
  beforeAll(async () => {
    t = await nodeWith({ trusted_proxies: '127.0.50.0/24, ::1' });
  });
  afterAll(async () => t?.close());

  it('two clients behind one proxy are throttled independently on the data plane', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await predict(t, guess(), proxy, '198.51.100.1')).status).toBe(401);
    expect((await predict(t, `Bearer ${t.keys.inference}`, proxy, '198.51.100.1')).status).toBe(429);
    expect((await predict(t, `Bearer ${t.keys.inference}`, proxy, '198.51.100.2')).status).toBe(200);
    // A spoofed left part does not free the locked client: its real hop is the right-most.
    expect((await predict(t, `Bearer ${t.keys.inference}`, proxy, '6.6.6.6, 198.51.100.1')).status).toBe(429);
    // Through a second trusted proxy, the same client is still the same client.
    expect((await predict(t, `Bearer ${t.keys.inference}`, proxy, '198.51.100.1, 127.0.50.9')).status).toBe(429);
  });

  it('two clients behind one proxy are throttled independently on the management API', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await whoami(t, guess(), proxy, '198.51.100.11')).status).toBe(401);
    expect((await whoami(t, `Bearer ${t.keys.management}`, proxy, '198.51.100.11')).status).toBe(429);
    expect((await whoami(t, `Bearer ${t.keys.management}`, proxy, '198.51.100.12')).status).toBe(200);
  });

  it('an untrusted peer’s header is ignored: rotating it does not escape the lock', async () => {
    const from = '127.0.51.1';
    for (let i = 0; i < LIMIT; i++) expect((await predict(t, guess(), from, `198.51.100.${100 + i}`)).status).toBe(401);
    expect((await predict(t, `Bearer ${t.keys.inference}`, from, '198.51.100.150')).status).toBe(429);
  });

  it('malformed header values are ignored safely: never a 500, and they count against the proxy itself', async () => {
    const from = '127.0.50.2';
    const junk = [
      'garbage',
      '',
      ' , , ',
      '1.2.3.4.5',
      '[::1',
      'unknown',
      '999.1.1.1',
      `${'1'.repeat(4000)}`,
      '::ffff:zz',
    ];
    for (const value of junk) {
      const res = await predict(t, `Bearer ${t.keys.inference}`, from, value);
      expect(res.status, value).toBe(200);
    }
    for (let i = 0; i < LIMIT; i++) expect((await predict(t, guess(), from, junk[i % junk.length])).status).toBe(401);
    expect((await predict(t, `Bearer ${t.keys.inference}`, from, 'garbage')).status).toBe(429);
    // A real client behind the same proxy is not caught by the garbage.
    expect((await predict(t, `Bearer ${t.keys.inference}`, from, '198.51.100.60')).status).toBe(200);
  });
});

describe('logs name the client', () => {
  let proc: NodeProcess;
  beforeAll(async () => {
    proc = await startNodeProcess(['--trusted-proxies', '127.0.60.0/24']);
  });
  afterAll(async () => {
    await proc?.stop();
  });

  it('the access log and the management log carry the forwarded address from a trusted proxy only', async () => {
    await call(`${proc.urls.inference}/nothing-here/x`, {
      headers: { 'x-forwarded-for': '198.51.100.71' },
      localAddress: '127.0.60.1',
    });
    await call(`${proc.urls.inference}/nothing-here/x`, {
      headers: { 'x-forwarded-for': '198.51.100.72' },
      localAddress: '127.0.61.1',
    });
    await call(`${proc.urls.management}/api/v1/whoami`, {
      headers: { 'x-forwarded-for': '198.51.100.73' },
      localAddress: '127.0.60.1',
    });
    const trustedLine = JSON.parse(await proc.waitFor(/"remote":"198\.51\.100\.71"/));
    expect(trustedLine.msg).toBe('request');
    const untrustedLine = JSON.parse(await proc.waitFor(/"remote":"127\.0\.61\.1"/));
    expect(untrustedLine.msg).toBe('request');
    expect(proc.output()).not.toContain('198.51.100.72');
    await proc.waitFor(/"listener":"management".*"remote":"198\.51\.100\.73"/);
  });
});
