import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateCredential } from '../src/kernel/credential.js';
import { withBrokenChecksum } from './helpers/credentials.js';
import { call, rawRequest } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { api, userWithSession } from './helpers/people.js';
import { type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * Browser access to a protected deployment (issue 11, B7), end to end on real sockets: the
 * sign-in page, the sign-in and sign-out routes, and the cookie they set, with a hostile test for
 * each promise in docs/security.md ("Browser access to a deployment"). Every test that fails
 * credentials has a loopback source address of its own, so the failure throttle of one test never
 * meets another's.
 */

const LIMIT = 4;
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const BASE_DOMAIN = 'models.test';

interface Hit {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

/** A model server that records what reaches it and tries to plant the gateway's cookie. */
async function cookieUpstream(): Promise<{ url: string; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    hits.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    res.setHeader('set-cookie', ['app_session=abc; Path=/', 'modelgate_token=planted; Path=/other']);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

let t: TestNode;
let up: Awaited<ReturnType<typeof cookieUpstream>>;
let wsUp: TestUpstream;
let inference: string;
let port: string;
/** An API key of `model`, one of `other`, one of `fwd`. */
let modelKey: string;
let otherKey: string;
let fwdKey: string;

beforeAll(async () => {
  t = await startTestNode({ failure_limit: String(LIMIT), failure_window_s: '60', base_domain: BASE_DOMAIN });
  up = await cookieUpstream();
  inference = t.node.urls.inference;
  port = new URL(inference).port;
  const deploy = async (body: Record<string, unknown>) => {
    const res = await manage(t, 'POST', '/deployments', { upstream: up.url, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  };
  modelKey = (await deploy({ name: 'model', access: 'protected', api_keys: 1 })).api_keys[0].key;
  otherKey = (await deploy({ name: 'other', access: 'protected', api_keys: 1 })).api_keys[0].key;
  fwdKey = (
    await deploy({
      name: 'fwd',
      access: 'protected',
      auth: { api_keys: true, forward_credential: true },
      api_keys: 1,
    })
  ).api_keys[0].key;
  await manage(t, 'POST', '/secrets', { name: 'basic-password', generate: true });
  await deploy({ name: 'basic-model', access: 'protected', auth: { basic_secret: 'basic-password', api_keys: true } });
  await deploy({ name: 'open', access: 'public' });
  wsUp = await websocketUpstream();
  await deploy({ name: 'live', access: 'protected', upstream: wsUp.url });
});

afterAll(async () => {
  await t?.close();
  await up?.close();
  await wsUp?.close();
});

/** A page load (or any GET) of the inference listener. */
const load = (path: string, from: string, headers: Record<string, string> = {}) =>
  call(`${inference}${path}`, { headers: { accept: HTML, ...headers }, localAddress: from });

/** Submits the sign-in form as the gateway's own page would (same-origin `Origin`). */
function submit(
  path: '/_modelgate/sign-in' | '/_modelgate/sign-out',
  fields: Record<string, string>,
  from: string,
  headers: Record<string, string> = {},
) {
  return call(`${inference}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: inference,
      'sec-fetch-site': 'same-origin',
      ...headers,
    },
    body: new URLSearchParams(fields).toString(),
    localAddress: from,
  });
}

const signIn = (fields: Record<string, string>, from: string, headers: Record<string, string> = {}) =>
  submit('/_modelgate/sign-in', { deployment: 'model', return_to: '/model/', ...fields }, from, headers);

const setCookie = (res: { distinct: Record<string, string[]> }) => res.distinct['set-cookie'] ?? [];

/** The cookie value a successful sign-in set, as a browser would send it back. */
function cookieFrom(res: { distinct: Record<string, string[]> }): string {
  const line = setCookie(res)[0] ?? '';
  return line.split(';')[0] ?? '';
}

describe('the sign-in page', () => {
  it('a page load without credentials gets it: still 401 with WWW-Authenticate, strict headers, never the upstream', async () => {
    const before = up.hits.length;
    const res = await load('/model/ui/index.html?tab=1', '127.0.20.1');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="model"');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).not.toMatch(/unsafe-inline|script-src/);
    expect(res.text).toContain('<form method="post" action="/_modelgate/sign-in">');
    expect(res.text).toContain('<input type="hidden" name="deployment" value="model">');
    expect(res.text).toContain('<input type="hidden" name="return_to" value="/model/ui/index.html?tab=1">');
    expect(res.text).not.toMatch(/<script/i);
    expect(setCookie(res)).toEqual([]);
    expect(up.hits.length).toBe(before);
  });

  it('HEAD gets the same status and headers without a body', async () => {
    const res = await call(`${inference}/model/`, {
      method: 'HEAD',
      headers: { accept: HTML },
      localAddress: '127.0.20.1',
    });
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toBe('');
  });

  it.each([
    ['curl (*/*)', 'GET', '*/*'],
    ['a script asking for JSON', 'GET', 'application/json'],
    ['no Accept', 'GET', undefined],
    ['a POST from a page', 'POST', HTML],
  ])('%s still gets the JSON 401', async (_name, method, accept) => {
    const res = await call(`${inference}/model/predict`, {
      method,
      headers: accept === undefined ? {} : { accept },
      localAddress: '127.0.20.1',
    });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('CREDENTIAL_MISSING');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="model"');
  });

  it('a deployment that takes Basic keeps the browser’s own prompt (no page)', async () => {
    const res = await load('/basic-model/', '127.0.20.1');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.distinct['www-authenticate']?.[0]).toMatch(/^Basic realm="basic-model"/);
  });

  it('what the request path carries is escaped on the page (no markup injection through the return path)', async () => {
    // Raw, so the target reaches the gateway unencoded.
    const res = await rawRequest(inference, 'GET /model/x?a="><script>alert(1)</script> HTTP/1.1', [`Accept: ${HTML}`]);
    expect(res.status).toBe(401);
    expect(res.body).not.toMatch(/<script/i);
    expect(res.body).toContain('value="/model/x?a=&#34;&#62;&#60;script&#62;');
  });
});

describe('signing in', () => {
  it('a valid API key sets an HttpOnly, SameSite=Strict cookie on /<deployment> and sends the browser back', async () => {
    const before = up.hits.length;
    const res = await signIn({ token: modelKey, return_to: '/model/ui?x=1' }, '127.0.21.1');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/model/ui?x=1');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(setCookie(res)).toEqual([`modelgate_token=${modelKey}; Path=/model; HttpOnly; SameSite=Strict`]);
    // The sign-in itself never reaches a model server, and the token is in no URL.
    expect(up.hits.length).toBe(before);
    expect(res.headers.location).not.toContain(modelKey);
    expect(res.text).toBe('');
  });

  it('the cookie opens the deployment; the upstream sees the other cookies but never the token', async () => {
    const cookie = cookieFrom(await signIn({ token: modelKey }, '127.0.21.2'));
    const res = await load('/model/ui?x=1', '127.0.21.2', { cookie: `theme=dark; ${cookie}; lang=en` });
    expect(res.status).toBe(200);
    const hit = up.hits.at(-1) as Hit;
    expect(hit.url).toBe('/ui?x=1');
    expect(hit.headers.cookie).toBe('theme=dark; lang=en');
    expect(hit.headers.authorization).toBeUndefined();
    expect(hit.headers['x-modelgate-principal']).toMatch(/^api_key:/);
    expect(JSON.stringify(hit.headers)).not.toContain(modelKey);
  });

  it('the node inference key works as the token too', async () => {
    const res = await signIn({ token: t.keys.inference }, '127.0.21.3');
    expect(res.status).toBe(303);
    const ok = await load('/model/', '127.0.21.3', { cookie: cookieFrom(res) });
    expect(ok.status).toBe(200);
    expect(up.hits.at(-1)?.headers['x-modelgate-principal']).toMatch(/^inference_key/);
  });

  it.each([
    ['an unknown API key', () => generateCredential('api_key'), 401, 'CREDENTIAL_UNKNOWN', '127.0.22.11'],
    ['text that is no credential', () => 'not a token at all', 401, 'CREDENTIAL_MALFORMED', '127.0.22.12'],
    ['a checksum-broken key', () => withBrokenChecksum(modelKey), 401, 'CREDENTIAL_MALFORMED', '127.0.22.13'],
    ['the key of another deployment', () => otherKey, 403, 'FORBIDDEN', '127.0.22.14'],
    ['the management key', () => t.keys.management, 403, 'FORBIDDEN', '127.0.22.15'],
  ])('%s shows the error on the page and sets no cookie', async (_name, token, status, code, from) => {
    const value = token();
    const res = await signIn({ token: value }, from);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(setCookie(res)).toEqual([]);
    expect(res.text).toContain('class="error"');
    expect(res.text).toContain(code);
    // The token is neither echoed nor kept in the form.
    expect(res.text).not.toContain(value);
    expect(res.text).toContain('name="token" type="password"');
  });

  it('an empty token asks for one, without counting a failure or setting a cookie', async () => {
    const res = await signIn({ token: '  ' }, '127.0.22.2');
    expect(res.status).toBe(400);
    expect(res.text).toContain('Enter a token.');
    expect(setCookie(res)).toEqual([]);
  });

  it('a public deployment needs no sign-in: back to it, no cookie', async () => {
    const res = await submit(
      '/_modelgate/sign-in',
      { deployment: 'open', token: modelKey, return_to: '/open/x' },
      '127.0.22.3',
    );
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/open/x');
    expect(setCookie(res)).toEqual([]);
  });

  it('behind a TLS-terminating proxy (the browser says https) the cookie is Secure', async () => {
    const res = await signIn({ token: modelKey }, '127.0.22.4', { origin: inference.replace('http:', 'https:') });
    expect(res.status).toBe(303);
    expect(setCookie(res)[0]).toMatch(/; Secure$/);
  });
});

describe('hostile sign-in', () => {
  it.each([
    ['another site’s Origin', { origin: 'http://evil.example' }],
    ['another port', { origin: 'http://127.0.0.1:1' }],
    ['Origin null (sandboxed frame)', { origin: 'null' }],
    ['a sibling site (Sec-Fetch-Site same-site)', { 'sec-fetch-site': 'same-site' }],
    ['a cross-site request', { 'sec-fetch-site': 'cross-site' }],
  ])('login CSRF from %s is refused: 403, no cookie', async (_name, headers) => {
    const res = await signIn({ token: modelKey }, '127.0.23.1', headers);
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('FORM_CROSS_SITE');
    expect(setCookie(res)).toEqual([]);
  });

  it('a form without Origin is refused (browsers always send one on POST)', async () => {
    const res = await call(`${inference}/_modelgate/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ deployment: 'model', token: modelKey }).toString(),
      localAddress: '127.0.23.1',
    });
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('FORM_CROSS_SITE');
  });

  it.each([
    ['a protocol-relative URL', '//evil.example/x'],
    ['an absolute URL', 'https://evil.example/'],
    ['another deployment', '/other/x'],
    ['a backslash', '/\\evil.example'],
    ['a dot segment', '/model/../other/'],
    ['an encoded dot segment', '/model/%2e%2e/other'],
    ['a header injection', '/model/\r\nSet-Cookie: x=y'],
  ])('the return path is validated: %s goes to the deployment root', async (_name, returnTo) => {
    const res = await signIn({ token: modelKey, return_to: returnTo }, '127.0.23.2');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/model/');
    expect(setCookie(res)).toHaveLength(1);
  });

  it('failed sign-ins count in the failure throttle with bad Bearer credentials: 429 after the limit', async () => {
    const from = '127.0.23.3';
    for (let i = 0; i < LIMIT; i++) {
      if (i % 2 === 0) {
        expect((await signIn({ token: generateCredential('api_key') }, from)).status).toBe(401);
      } else {
        const bearer = await call(`${inference}/model/x`, {
          headers: { authorization: `Bearer ${generateCredential('api_key')}` },
          localAddress: from,
        });
        expect(bearer.status).toBe(401);
      }
    }
    // Locked: even the valid token is refused, on the page and as a header; no cookie is set.
    const page = await signIn({ token: modelKey }, from);
    expect(page.status).toBe(429);
    expect(Number(page.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(page.text).toContain('Too many failed attempts');
    expect(setCookie(page)).toEqual([]);
    const header = await call(`${inference}/model/x`, {
      headers: { authorization: `Bearer ${modelKey}` },
      localAddress: from,
    });
    expect(header.status).toBe(429);
    // Another address is unaffected.
    expect((await signIn({ token: modelKey }, '127.0.23.4')).status).toBe(303);
  });

  it('guessing through the cookie counts too', async () => {
    const from = '127.0.23.5';
    for (let i = 0; i < LIMIT; i++) {
      const res = await call(`${inference}/model/x`, {
        headers: { cookie: `modelgate_token=${generateCredential('api_key')}` },
        localAddress: from,
      });
      expect(res.status).toBe(401);
    }
    const locked = await call(`${inference}/model/x`, {
      headers: { cookie: `modelgate_token=${modelKey}` },
      localAddress: from,
    });
    expect(locked.status).toBe(429);
  });

  it.each([
    [
      'a JSON body',
      'application/json',
      JSON.stringify({ deployment: 'model', token: 'x' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a body over 16 KiB',
      'application/x-www-form-urlencoded',
      `token=${'a'.repeat(20_000)}`,
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    [
      'an unknown deployment',
      'application/x-www-form-urlencoded',
      'deployment=nope&token=x',
      404,
      'DEPLOYMENT_NOT_FOUND',
    ],
    ['no deployment', 'application/x-www-form-urlencoded', 'token=x', 400, 'BAD_REQUEST'],
    [
      'two deployments',
      'application/x-www-form-urlencoded',
      'deployment=model&deployment=other&token=x',
      400,
      'BAD_REQUEST',
    ],
  ])('%s is a clear error, never a 500', async (_name, type, body, status, code) => {
    const res = await call(`${inference}/_modelgate/sign-in`, {
      method: 'POST',
      headers: { 'content-type': type, origin: inference },
      body,
      localAddress: '127.0.23.6',
    });
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
  });

  it('other methods and paths under /_modelgate/ are the gateway’s, answered and never forwarded', async () => {
    const before = up.hits.length;
    const get = await call(`${inference}/_modelgate/sign-in`, { localAddress: '127.0.23.6' });
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const other = await call(`${inference}/_modelgate/anything`, { localAddress: '127.0.23.6' });
    expect(other.status).toBe(404);
    expect(other.json.error.code).toBe('ROUTE_NOT_FOUND');
    const hosted = await call(`${inference}/_modelgate/anything`, {
      headers: { host: `model.${BASE_DOMAIN}:${port}` },
      localAddress: '127.0.23.6',
    });
    expect(hosted.status).toBe(404);
    // A WebSocket handshake there is not forwarded either.
    const upgrade = await rawRequest(inference, 'GET /_modelgate/sign-in HTTP/1.1', [
      `Host: model.${BASE_DOMAIN}:${port}`,
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ]);
    expect(upgrade.status).toBe(404);
    expect(up.hits.length).toBe(before);
  });
});

describe('the cookie on later requests', () => {
  it('an Authorization header wins over the cookie, both ways', async () => {
    const cookie = cookieFrom(await signIn({ token: modelKey }, '127.0.24.1'));
    const bad = await call(`${inference}/model/x`, {
      headers: { cookie, authorization: `Bearer ${generateCredential('api_key')}` },
      localAddress: '127.0.24.1',
    });
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe('CREDENTIAL_UNKNOWN');
    const good = await call(`${inference}/model/x`, {
      headers: { cookie: `modelgate_token=${generateCredential('api_key')}`, authorization: `Bearer ${modelKey}` },
      localAddress: '127.0.24.1',
    });
    expect(good.status).toBe(200);
    expect(up.hits.at(-1)?.headers.cookie).toBeUndefined();
  });

  it('deleting the API key refuses the cookie on the next request, which clears it and shows the page', async () => {
    const made = await manage(t, 'POST', '/api-keys', { deployment: 'model' });
    const key = made.body.api_keys[0];
    const cookie = cookieFrom(await signIn({ token: key.key }, '127.0.24.2'));
    expect((await load('/model/', '127.0.24.2', { cookie })).status).toBe(200);
    expect((await manage(t, 'DELETE', `/api-keys/${key.id}`)).status).toBe(204);
    const page = await load('/model/', '127.0.24.2', { cookie });
    expect(page.status).toBe(401);
    expect(page.text).toContain('The saved token was refused');
    expect(page.text).not.toContain(key.key);
    expect(setCookie(page)).toEqual(['modelgate_token=; Max-Age=0; Path=/model; HttpOnly; SameSite=Strict']);
    const api = await call(`${inference}/model/x`, { headers: { cookie }, localAddress: '127.0.24.2' });
    expect(api.status).toBe(401);
    expect(setCookie(api)).toHaveLength(1);
  });

  it('a cookie of a key for another deployment is 403 and cleared', async () => {
    const res = await load('/model/', '127.0.24.3', { cookie: `modelgate_token=${otherKey}` });
    expect(res.status).toBe(403);
    expect(res.text).toContain('does not open this deployment');
    expect(setCookie(res)[0]).toMatch(/^modelgate_token=; Max-Age=0; Path=\/model;/);
  });

  it('two credential cookies (one planted for a parent path or domain) are ambiguous: 401', async () => {
    const res = await call(`${inference}/model/x`, {
      headers: { cookie: `modelgate_token=${modelKey}; modelgate_token=${otherKey}` },
      localAddress: '127.0.24.4',
    });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('CREDENTIAL_AMBIGUOUS');
  });

  it('an upstream cannot set the gateway’s cookie; its own cookies pass', async () => {
    const res = await call(`${inference}/model/x`, {
      headers: { authorization: `Bearer ${modelKey}` },
      localAddress: '127.0.24.5',
    });
    expect(res.status).toBe(200);
    expect(setCookie(res)).toEqual(['app_session=abc; Path=/']);
  });

  it('with forward_credential the upstream gets the cookie’s token as Authorization, not as a cookie', async () => {
    const signed = await submit(
      '/_modelgate/sign-in',
      { deployment: 'fwd', token: fwdKey, return_to: '/fwd/' },
      '127.0.24.6',
    );
    expect(setCookie(signed)[0]).toContain('Path=/fwd;');
    const res = await load('/fwd/x', '127.0.24.6', { cookie: `a=1; ${cookieFrom(signed)}` });
    expect(res.status).toBe(200);
    const hit = up.hits.at(-1) as Hit;
    expect(hit.headers.authorization).toBe(`Bearer ${fwdKey}`);
    expect(hit.headers.cookie).toBe('a=1');
  });

  it('a WebSocket from the signed-in page opens with the cookie; the upstream never sees the token', async () => {
    const signed = await submit('/_modelgate/sign-in', { deployment: 'live', token: t.keys.inference }, '127.0.24.8');
    const socket = new WebSocket(`${inference.replace('http', 'ws')}/live/socket`, {
      headers: { cookie: `a=1; ${cookieFrom(signed)}`, origin: inference },
      localAddress: '127.0.24.8',
    });
    const reply = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => socket.send('hi'));
      socket.on('message', (data) => resolve(data.toString()));
      socket.on('unexpected-response', (_req, res) => reject(new Error(`handshake answered ${res.statusCode}`)));
      socket.on('error', reject);
    });
    socket.close();
    expect(reply).toBe('echo:hi');
    expect(wsUp.hits.at(-1)?.headers.cookie).toBe('a=1');
  });

  it('the console’s session cookie never reaches an upstream either (cookies ignore ports)', async () => {
    const res = await call(`${inference}/open/x`, {
      headers: { cookie: `modelgate_session=${generateCredential('user_session')}; a=1` },
      localAddress: '127.0.24.7',
    });
    expect(res.status).toBe(200);
    expect(up.hits.at(-1)?.headers.cookie).toBe('a=1');
  });
});

describe('API tokens (mgt_) through the page and the cookie', () => {
  /** alice reads `model` and `other`, not `fwd`; her tokens are made with her session. */
  let alice: string;
  const token = async (body: Record<string, unknown>) => {
    const res = await api(t, alice, 'POST', '/tokens', { name: `browser-${randomBytes(4).toString('hex')}`, ...body });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string };
  };

  beforeAll(async () => {
    expect((await manage(t, 'POST', '/groups', { name: 'browser-readers' })).status).toBe(201);
    for (const name of ['model', 'other']) {
      const d = (await manage(t, 'GET', `/deployments/${name}`)).body;
      await manage(t, 'PUT', `/infrastructures/${d.infrastructure}/grants/browser-readers`, { rights: ['view'] });
      await manage(t, 'PUT', `/services/${d.service}/grants/browser-readers`, { rights: ['read'] });
    }
    alice = await userWithSession(t, 'browser-alice', ['browser-readers']);
  });

  it('an endpoint token sets the cookie, which reaches the upstream as the token’s principal, never the token', async () => {
    const made = await token({ ops_access: false, endpoint_access: { deployments: ['model'] } });
    const signed = await signIn({ token: made.token, return_to: '/model/app' }, '127.0.27.1');
    expect(signed.status).toBe(303);
    expect(setCookie(signed)).toEqual([`modelgate_token=${made.token}; Path=/model; HttpOnly; SameSite=Strict`]);
    const res = await load('/model/app', '127.0.27.1', { cookie: cookieFrom(signed) });
    expect(res.status).toBe(200);
    const hit = up.hits.at(-1) as Hit;
    expect(hit.url).toBe('/app');
    expect(hit.headers['x-modelgate-principal']).toBe(`api_token:${made.id}`);
    expect(JSON.stringify(hit.headers)).not.toContain(made.token);
  });

  it.each([
    ['an ops-only token', { ops_access: true }, 'model', 'has no Protected Endpoint access', '127.0.27.2'],
    [
      'a token listing another deployment',
      { ops_access: false, endpoint_access: { deployments: ['model'] } },
      'other',
      'does not list this deployment',
      '127.0.27.3',
    ],
    [
      'a token for all, on a deployment its owner may not read',
      { ops_access: false, endpoint_access: { all: true } },
      'fwd',
      'owner may not read this deployment',
      '127.0.27.4',
    ],
  ])(
    '%s is refused on the page with the reason (403), and no cookie',
    async (_name, body, deployment, reason, from) => {
      const made = await token(body);
      const res = await signIn({ token: made.token, deployment, return_to: `/${deployment}/` }, from);
      expect(res.status).toBe(403);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.text).toContain(reason);
      expect(res.text).toContain('FORBIDDEN');
      expect(res.text).not.toContain(made.token);
      expect(setCookie(res)).toEqual([]);
      // Exactly what the same token gets as a Bearer header.
      const bearer = await call(`${inference}/${deployment}/x`, {
        headers: { authorization: `Bearer ${made.token}` },
        localAddress: from,
      });
      expect(bearer.status).toBe(403);
      expect(bearer.json.error.message).toContain(reason);
    },
  );

  it('deleting the token refuses its cookie on the next request, which clears it and shows the page', async () => {
    const made = await token({ ops_access: false, endpoint_access: { all: true } });
    const cookie = cookieFrom(await signIn({ token: made.token }, '127.0.27.5'));
    expect((await load('/model/', '127.0.27.5', { cookie })).status).toBe(200);
    expect((await api(t, alice, 'DELETE', `/tokens/${made.id}`)).status).toBe(204);
    const page = await load('/model/', '127.0.27.5', { cookie });
    expect(page.status).toBe(401);
    expect(page.text).toContain('The saved token was refused');
    expect(page.text).not.toContain(made.token);
    expect(setCookie(page)).toEqual(['modelgate_token=; Max-Age=0; Path=/model; HttpOnly; SameSite=Strict']);
  });

  it('taking the owner’s read right away refuses the cookie on the next request (403)', async () => {
    expect((await manage(t, 'POST', '/groups', { name: 'browser-other-readers' })).status).toBe(201);
    const d = (await manage(t, 'GET', '/deployments/other')).body;
    await manage(t, 'PUT', `/infrastructures/${d.infrastructure}/grants/browser-other-readers`, { rights: ['view'] });
    await manage(t, 'PUT', `/services/${d.service}/grants/browser-other-readers`, { rights: ['read'] });
    const bob = await userWithSession(t, 'browser-bob', ['browser-other-readers']);
    const made = await api(t, bob, 'POST', '/tokens', { name: 'bob-browser', endpoint_access: { all: true } });
    expect(made.status, made.text).toBe(201);
    const cookie = cookieFrom(
      await submit('/_modelgate/sign-in', { deployment: 'other', token: made.body.token }, '127.0.27.6'),
    );
    expect((await load('/other/', '127.0.27.6', { cookie })).status).toBe(200);
    expect((await manage(t, 'DELETE', `/services/${d.service}/grants/browser-other-readers`)).status).toBe(204);
    const res = await load('/other/', '127.0.27.6', { cookie });
    expect(res.status).toBe(403);
    expect(res.text).toContain('does not open this deployment');
  });
});

describe('signing out', () => {
  it('GET shows a confirmation (a link cannot sign anyone out); POST clears the cookie and goes back', async () => {
    const page = await call(`${inference}/_modelgate/sign-out?deployment=model`, { localAddress: '127.0.25.1' });
    expect(page.status).toBe(200);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.text).toContain('<form method="post" action="/_modelgate/sign-out">');
    expect(setCookie(page)).toEqual([]);
    const out = await submit('/_modelgate/sign-out', { deployment: 'model' }, '127.0.25.1');
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/model/');
    expect(setCookie(out)).toEqual(['modelgate_token=; Max-Age=0; Path=/model; HttpOnly; SameSite=Strict']);
  });

  it('a sign-out form from another site is refused', async () => {
    const res = await submit('/_modelgate/sign-out', { deployment: 'model' }, '127.0.25.1', {
      origin: 'http://evil.example',
    });
    expect(res.status).toBe(403);
    expect(setCookie(res)).toEqual([]);
  });
});

describe('host routing (base_domain)', () => {
  const hosted = () => ({ host: `model.${BASE_DOMAIN}:${port}`, origin: `http://model.${BASE_DOMAIN}:${port}` });

  it('the page names no deployment field; the cookie is host-only on /', async () => {
    const page = await load('/ui', '127.0.26.1', { host: hosted().host });
    expect(page.status).toBe(401);
    expect(page.text).not.toContain('name="deployment"');
    expect(page.text).toContain('name="return_to" value="/ui"');
    const res = await submit('/_modelgate/sign-in', { token: modelKey, return_to: '/ui' }, '127.0.26.1', hosted());
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/ui');
    expect(setCookie(res)).toEqual([`modelgate_token=${modelKey}; Path=/; HttpOnly; SameSite=Strict`]);
    const ok = await load('/ui', '127.0.26.1', { host: hosted().host, cookie: cookieFrom(res) });
    expect(ok.status).toBe(200);
    expect(up.hits.at(-1)?.url).toBe('/ui');
  });

  it('the Host decides the deployment, not a form field; a sibling deployment’s page cannot sign in here', async () => {
    const res = await submit('/_modelgate/sign-in', { deployment: 'other', token: modelKey }, '127.0.26.2', hosted());
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
    const sibling = await submit('/_modelgate/sign-in', { token: modelKey }, '127.0.26.2', {
      ...hosted(),
      origin: `http://other.${BASE_DOMAIN}:${port}`,
    });
    expect(sibling.status).toBe(403);
  });
});

describe('with the demo deployment of a real node process', () => {
  let node: NodeProcess;
  let inferenceKey: string;

  beforeAll(async () => {
    node = await startNodeProcess(['--demo', '--log-level', 'trace']);
    await node.waitFor(/demo model server deployed/);
    inferenceKey = JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8')).inference.key;
  });

  afterAll(async () => {
    await node?.stop();
  });

  it('signs in to the demo model, reaches it, and no token reaches the log', async () => {
    const wrong = generateCredential('api_key');
    const garbage = `garbage${randomBytes(12).toString('hex')}`;
    const form = (token: string) =>
      call(`${node.urls.inference}/_modelgate/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: node.urls.inference },
        body: new URLSearchParams({ deployment: 'demo', token, return_to: '/demo/models' }).toString(),
      });
    expect((await form(wrong)).status).toBe(401);
    expect((await form(garbage)).status).toBe(401);
    const signed = await form(inferenceKey);
    expect(signed.status).toBe(303);
    const models = await call(`${node.urls.inference}${signed.headers.location}`, {
      headers: { accept: HTML, cookie: cookieFrom(signed) },
    });
    expect(models.status).toBe(200);
    expect(models.json).toEqual({ models: [{ modelName: 'sentiment', modelUrl: 'sentiment.mar' }] });
    await new Promise((r) => setTimeout(r, 300));
    await node.stop();
    const output = node.output();
    expect(output).toMatch(/"status":303/);
    for (const secret of [wrong, garbage, inferenceKey]) expect(output).not.toContain(secret);
  });
});
