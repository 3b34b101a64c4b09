import { type DemoServer, startDemoServer } from '@modelgate/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateCredential } from '../src/kernel/credential.js';
import { withBrokenChecksum } from './helpers/credentials.js';
import { call, rawRequest } from './helpers/http.js';
import { deploy as deployOrThrow, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import {
  closedPortUrl,
  recordingUpstream,
  silentUpstream,
  type TestUpstream,
  websocketUpstream,
} from './helpers/upstreams.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let t: TestNode;
let demo: DemoServer;
let upA: TestUpstream;
let upB: TestUpstream;
let silent: TestUpstream;
let ws: TestUpstream;
let protKey: string;
let otherKey: string;
let aKey: string;
let basicPassword: string;

beforeAll(async () => {
  t = await startTestNode({ failure_limit: '3', failure_window_s: '30', upstream_timeout_ms: '400' });
  demo = await startDemoServer({ tokenDelayMs: 40 });
  [upA, upB, silent, ws] = await Promise.all([
    recordingUpstream('a'),
    recordingUpstream('b'),
    silentUpstream(),
    websocketUpstream(),
  ]);
  const created = await manage(t, 'POST', '/secrets', { name: 'prot-password', generate: true });
  basicPassword = created.body.value;
  const deploy = (body: Record<string, unknown>) => deployOrThrow(t, body);
  await deploy({ name: 'pub', upstream: demo.url, access: 'public' });
  protKey = (
    await deploy({
      name: 'prot',
      upstream: demo.url,
      access: 'protected',
      auth: { basic_secret: 'prot-password', api_keys: true },
      api_keys: 1,
    })
  ).api_keys[0].key;
  otherKey = (await deploy({ name: 'other', upstream: demo.url, access: 'protected', api_keys: 1 })).api_keys[0].key;
  aKey = (await deploy({ name: 'a', upstream: upA.url, access: 'protected', api_keys: 1 })).api_keys[0].key;
  await deploy({ name: 'b', upstream: upB.url, access: 'protected' });
  await deploy({ name: 'slow', upstream: silent.url, access: 'public' });
  await deploy({ name: 'down', upstream: await closedPortUrl(), access: 'public' });
  await deploy({ name: 'off', upstream: demo.url, access: 'public', enabled: false });
  await deploy({ name: 'chat', upstream: ws.url, access: 'protected', api_keys: 0 });
});

afterAll(async () => {
  await t?.close();
  await Promise.all([demo?.close(), upA?.close(), upB?.close(), silent?.close(), ws?.close()]);
});

const gw = (path: string) => `${t.node.urls.inference}${path}`;
const predict = (deployment: string, headers: Record<string, string> = {}, localAddress?: string) =>
  call(gw(`/${deployment}/predictions/sentiment`), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ text: 'I love this' }),
    localAddress,
  });

describe('data-plane outcomes on real sockets', () => {
  it('200: a public deployment forwards to the model server', async () => {
    const res = await predict('pub');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ label: 'positive', score: expect.any(Number) });
    expect(res.headers['x-request-id']).toBeTruthy();
  });

  it('200: a protected deployment accepts its API key, Basic with the secret, and the node inference key', async () => {
    expect((await predict('prot', { authorization: `Bearer ${protKey}` })).status).toBe(200);
    expect((await predict('prot', { authorization: basic('modelgate', basicPassword) })).status).toBe(200);
    expect((await predict('prot', { authorization: `Bearer ${t.keys.inference}` })).status).toBe(200);
  });

  it('401 without a credential, naming every accepted scheme in WWW-Authenticate', async () => {
    const res = await predict('prot');
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('CREDENTIAL_MISSING');
    expect(res.distinct['www-authenticate']).toEqual(['Basic realm="prot", charset="UTF-8"', 'Bearer realm="prot"']);
    const bearerOnly = await predict('other');
    expect(bearerOnly.headers['www-authenticate']).toBe('Bearer realm="other"');
  });

  it.each([
    ['unknown API key', 20, () => `Bearer ${generateCredential('api_key')}`, 'CREDENTIAL_UNKNOWN'],
    ['wrong Basic password', 21, () => basic('modelgate', 'not-the-password'), 'CREDENTIAL_UNKNOWN'],
    ['wrong Basic username', 22, () => basic('paperspace', basicPassword), 'CREDENTIAL_UNKNOWN'],
    ['malformed bearer', 23, () => 'Bearer not-a-key', 'CREDENTIAL_MALFORMED'],
    ['no scheme', 24, () => protKey, 'CREDENTIAL_MALFORMED'],
    ['bad checksum', 25, () => `Bearer ${withBrokenChecksum(protKey)}`, 'CREDENTIAL_MALFORMED'],
  ])('401 for %s, without echoing it', async (_name, client, header, code) => {
    // From an address of its own, so these failures do not throttle one another or other tests.
    const res = await predict('prot', { authorization: header() }, `127.0.1.${client}`);
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe(code);
    expect(res.headers['www-authenticate']).toBeDefined();
    expect(res.text).not.toContain(basicPassword);
    expect(res.text).not.toContain(protKey.slice(4));
  });

  it('403 for a valid credential without access to this deployment', async () => {
    const otherDeployment = await predict('prot', { authorization: `Bearer ${otherKey}` });
    expect(otherDeployment.status).toBe(403);
    expect(otherDeployment.json.error.code).toBe('FORBIDDEN');
    const managementKey = await predict('prot', { authorization: `Bearer ${t.keys.management}` });
    expect(managementKey.status).toBe(403);
  });

  it('404 for an unknown deployment, 503 for a disabled one, 502 for a refused upstream, 504 for a silent one', async () => {
    expect((await predict('nope')).json.error.code).toBe('DEPLOYMENT_NOT_FOUND');
    expect((await predict('nope')).status).toBe(404);
    const off = await predict('off');
    expect([off.status, off.json.error.code]).toEqual([503, 'DEPLOYMENT_DISABLED']);
    const down = await predict('down');
    expect([down.status, down.json.error.code]).toEqual([502, 'UPSTREAM_UNAVAILABLE']);
    const slow = await call(gw('/slow/anything'));
    expect([slow.status, slow.json.error.code]).toEqual([504, 'UPSTREAM_TIMEOUT']);
  });

  it('enable/disable takes effect on the next request', async () => {
    expect((await manage(t, 'POST', '/deployments/off/enable')).status).toBe(200);
    expect((await predict('off')).status).toBe(200);
    expect((await manage(t, 'POST', '/deployments/off/disable')).status).toBe(200);
    expect((await predict('off')).status).toBe(503);
  });

  it('429 with Retry-After for a client that keeps failing; other clients are unaffected', async () => {
    const attacker = '127.0.0.2';
    const bad = { authorization: `Bearer ${generateCredential('api_key')}` };
    for (let i = 0; i < 3; i++) expect((await predict('prot', bad, attacker)).status).toBe(401);
    const throttled = await predict('prot', { authorization: `Bearer ${protKey}` }, attacker);
    expect(throttled.status).toBe(429);
    expect(throttled.json.error.code).toBe('THROTTLED');
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    // Another address, and the same address on another deployment, still get through.
    expect((await predict('prot', { authorization: `Bearer ${protKey}` }, '127.0.0.3')).status).toBe(200);
    expect((await predict('other', { authorization: `Bearer ${otherKey}` }, attacker)).status).toBe(200);
  });
});

describe('G4: the Basic password is the secret as it was at the last (re)deploy', () => {
  it('changing the secret changes nothing until redeploy; redeploy swaps old for new', async () => {
    const oldPassword = basicPassword;
    const updated = await manage(t, 'PUT', '/secrets/prot-password', { value: 'the-new-password' });
    expect(updated.status).toBe(200);
    expect((await predict('prot', { authorization: basic('modelgate', oldPassword) })).status).toBe(200);
    expect(
      (await predict('prot', { authorization: basic('modelgate', 'the-new-password') }, '127.0.0.10')).status,
    ).toBe(401);
    const redeployed = await manage(t, 'POST', '/deployments/prot/redeploy');
    expect(redeployed.body.revision).toBeGreaterThan(1);
    expect((await predict('prot', { authorization: basic('modelgate', 'the-new-password') })).status).toBe(200);
    expect((await predict('prot', { authorization: basic('modelgate', oldPassword) }, '127.0.0.10')).status).toBe(401);
    basicPassword = 'the-new-password';
  });
});

describe('X1: revocation is instant', () => {
  it('a deleted API key is refused on the very next request, no restart, no wait', async () => {
    const made = await manage(t, 'POST', '/api-keys', { deployment: 'prot', description: 'temp' });
    const { id, key } = made.body.api_keys[0];
    expect((await predict('prot', { authorization: `Bearer ${key}` })).status).toBe(200);
    expect((await predict('prot', { authorization: `Bearer ${key}` })).status).toBe(200); // cached now
    expect((await manage(t, 'DELETE', `/api-keys/${id}`)).status).toBe(204);
    const after = await predict('prot', { authorization: `Bearer ${key}` }, '127.0.0.11');
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('CREDENTIAL_UNKNOWN');
  });

  it('switching a deployment to public and back takes effect on the next request', async () => {
    await manage(t, 'PATCH', '/deployments/other', { access: 'public' });
    expect((await predict('other')).status).toBe(200);
    await manage(t, 'PATCH', '/deployments/other', { access: 'protected' });
    expect((await predict('other')).status).toBe(401);
  });

  it('a deleted deployment is 404 at once', async () => {
    await manage(t, 'POST', '/deployments', { name: 'gone', upstream: demo.url, access: 'public' });
    expect((await predict('gone')).status).toBe(200);
    expect((await manage(t, 'DELETE', '/deployments/gone')).status).toBe(204);
    expect((await predict('gone')).status).toBe(404);
  });
});

describe('paths: a credential for a never reaches b', () => {
  it.each([
    '/a/../b/x',
    '/a/%2e%2e/b/x',
    '/a/%2E%2E/b/x',
    '/a%2F..%2Fb/x',
    '/a/..%2Fb/x',
    '//b/x',
    '/A/x',
    '/a/./../b/x',
    '/a\\..\\b/x',
  ])('%s', async (path) => {
    const before = upB.hits.length;
    const res = await rawRequest(t.node.urls.inference, `GET ${path} HTTP/1.1`, [`Authorization: Bearer ${aKey}`]);
    expect([400, 404]).toContain(res.status);
    expect(upB.hits.length).toBe(before);
  });

  it('the upstream receives exactly the authorized path', async () => {
    const res = await call(gw('/a/v1/models?x=1&y=%2F'), { headers: { authorization: `Bearer ${aKey}` } });
    expect(res.status).toBe(200);
    expect(upA.hits.at(-1)?.url).toBe('/v1/models?x=1&y=%2F');
  });

  it('duplicated Authorization headers are refused and never forwarded', async () => {
    const before = upA.hits.length;
    const res = await rawRequest(t.node.urls.inference, 'GET /a/x HTTP/1.1', [
      `Authorization: Bearer ${aKey}`,
      `Authorization: Bearer ${generateCredential('api_key')}`,
    ]);
    expect([400, 401]).toContain(res.status);
    expect(JSON.parse(res.body).error.code).toBe('CREDENTIAL_AMBIGUOUS');
    const onPublic = await rawRequest(t.node.urls.inference, 'GET /pub/echo/x HTTP/1.1', [
      'Authorization: Bearer one',
      'Authorization: Bearer two',
    ]);
    expect([400, 401]).toContain(onPublic.status);
    expect(upA.hits.length).toBe(before);
  });

  it('the caller’s credential and spoofed gateway headers do not reach the upstream', async () => {
    const res = await call(gw('/prot/echo/h'), {
      headers: { authorization: `Bearer ${protKey}`, 'x-modelgate-principal': 'admin', 'X-Modelgate-Deployment': 'x' },
    });
    expect(res.status).toBe(200);
    const seen = res.json.headers as Record<string, string>;
    expect(seen.authorization).toBeUndefined();
    expect(seen['x-modelgate-deployment']).toBe('prot');
    expect(seen['x-modelgate-principal']).toMatch(/^api_key:key_/);
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
  });
});

describe('streaming', () => {
  it('SSE: the first event reaches the client while the model is still generating', async () => {
    const res = await fetch(gw('/prot/v1/chat/completions'), {
      method: 'POST',
      headers: { authorization: `Bearer ${protKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'modelgate-demo',
        stream: true,
        messages: [{ role: 'user', content: 'please tell me about this wonderful excellent gateway today' }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    // Causal, not timed: the upstream is still streaming when the first event has arrived.
    expect(demo.streamStats().active).toBe(1);
    let rest = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      rest += new TextDecoder().decode(chunk.value);
    }
    expect(rest).toContain('data: [DONE]');
  });

  it('WebSocket: echo through a protected deployment after authentication; refused without it', async () => {
    const url = `${t.node.urls.inference.replace('http', 'ws')}/chat/socket`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${t.keys.inference}` } });
    const reply = await new Promise<string>((resolve, reject) => {
      socket.on('open', () => socket.send('hello'));
      socket.on('message', (data) => resolve(data.toString()));
      socket.on('error', reject);
    });
    expect(reply).toBe('echo:hello');
    expect(ws.hits.at(-1)?.headers.authorization).toBeUndefined();
    socket.close();

    const refused = new WebSocket(url);
    const status = await new Promise<number>((resolve) => {
      refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.on('error', () => resolve(-1));
    });
    expect(status).toBe(401);
  });
});

describe('review follow-ups', () => {
  it('parallel bad guesses from one address cannot exceed the failure limit', async () => {
    const guesses = await Promise.all(
      Array.from({ length: 12 }, () =>
        predict('prot', { authorization: basic('modelgate', `guess-${Math.random()}`) }, '127.0.0.40'),
      ),
    );
    const statuses = guesses.map((g) => g.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(9);
  });

  it('an open WebSocket is closed when the API key it authenticated with is deleted', async () => {
    const made = await manage(t, 'POST', '/api-keys', { deployment: 'chat' });
    const { id, key } = made.body.api_keys[0];
    await manage(t, 'PATCH', '/deployments/chat', { auth: { api_keys: true } });
    const socket = new WebSocket(`${t.node.urls.inference.replace('http', 'ws')}/chat/socket`, {
      headers: { authorization: `Bearer ${key}` },
    });
    await new Promise<void>((resolve, reject) => {
      socket.on('open', () => resolve());
      socket.on('error', reject);
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    expect((await manage(t, 'DELETE', `/api-keys/${id}`)).status).toBe(204);
    await closed;
    expect(socket.readyState).toBe(WebSocket.CLOSED);
  });

  it('forward_credential passes on a deployment-scoped credential, never the node inference key', async () => {
    const created = await manage(t, 'POST', '/deployments', {
      name: 'fwd',
      upstream: demo.url,
      access: 'protected',
      auth: { api_keys: true, forward_credential: true },
      api_keys: 1,
    });
    const key = created.body.api_keys[0].key;
    const withKey = await call(gw('/fwd/echo/x'), { headers: { authorization: `Bearer ${key}` } });
    expect(withKey.json.headers.authorization).toBe(`Bearer ${key}`);
    const withNodeKey = await call(gw('/fwd/echo/x'), { headers: { authorization: `Bearer ${t.keys.inference}` } });
    expect(withNodeKey.status).toBe(200);
    expect(withNodeKey.json.headers.authorization).toBeUndefined();
  });

  it('a credential typed where an id belongs is never echoed back', async () => {
    const res = await manage(t, 'DELETE', `/api-keys/${protKey}`);
    expect(res.status).toBe(404);
    expect(JSON.stringify(res.body)).not.toContain(protKey);
  });
});
