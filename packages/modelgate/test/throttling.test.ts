import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { generateCredential } from '../src/kernel/credential.js';
import { createAdminKey } from '../src/keys/admin-keys.js';
import { call } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Hostile tests of failure throttling (issue 7, classes 2 and 3), end to end on real sockets.
 * Each attacker and each bystander has a loopback address of its own (127.x.y.z all reach the
 * node on Linux), so the tests do not throttle one another.
 */

const LIMIT = 8;
// Four password checks at once node-wide, so one address may hold one of them.
const CAP = 4;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const bearer = (token: string) => `Bearer ${token}`;

let t: TestNode;
let up: TestUpstream;
let apiKey: string;
let password: string;
let adminKey: string;

beforeAll(async () => {
  t = await startTestNode({
    failure_limit: String(LIMIT),
    failure_window_s: '60',
    password_check_concurrency: String(CAP),
  });
  up = await recordingUpstream('model');
  password = (await manage(t, 'POST', '/secrets', { name: 'model-password', generate: true })).body.value;
  const deployed = await manage(t, 'POST', '/deployments', {
    name: 'model',
    upstream: up.url,
    access: 'protected',
    auth: { basic_secret: 'model-password', api_keys: true },
    api_keys: 1,
  });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  apiKey = deployed.body.api_keys[0].key;
  adminKey = (await createAdminKey(t.node.store, 'throttling test')).key;
});

afterAll(async () => {
  await t?.close();
  await up?.close();
});

const predict = (authorization: string | undefined, from: string) =>
  call(`${t.node.urls.inference}/model/predictions/x`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: '{}',
    localAddress: from,
  });

const management = (path: string, authorization: string | undefined, from: string, method = 'GET') =>
  call(`${t.node.urls.management}${path}`, {
    method,
    headers: authorization ? { authorization } : {},
    localAddress: from,
  });

/** A 429 as the contract says: registry code, and a Retry-After within the window. */
function expectThrottled(res: { status: number; json: any; headers: Record<string, unknown> }): void {
  expect(res.status).toBe(429);
  expect(res.json.error.code).toBe('THROTTLED');
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
}

describe('data plane: a valid credential among guesses does not reset the count', () => {
  const guesses = {
    'unknown API key': () => bearer(generateCredential('api_key')),
    'wrong Basic password': () => basic('modelgate', `guess-${Math.random()}`),
    'malformed bearer': () => 'Bearer not-a-key',
  };
  const valid = {
    'the deployment API key': () => bearer(apiKey),
    'the Basic password (cached after its first use)': () => basic('modelgate', password),
    'the node inference key': () => bearer(t.keys.inference),
  };
  const cases = Object.entries(guesses).flatMap(([g, guess], i) =>
    Object.entries(valid).map(([v, good], j) => [g, v, guess, good, `127.0.10.${i * 10 + j + 1}`] as const),
  );

  it.each(cases)('%s interleaved with %s: locked out after the limit', async (_g, _v, guess, good, from) => {
    for (let i = 0; i < LIMIT; i++) {
      expect((await predict(good(), from)).status).toBe(200);
      expect((await predict(guess(), from)).status).toBe(401);
    }
    // The lock applies to the address: the valid (even cached) credential is refused too.
    expectThrottled(await predict(good(), from));
    expectThrottled(await predict(guess(), from));
    // Another address is unaffected.
    expect((await predict(good(), '127.0.10.250')).status).toBe(200);
  });
});

/** A WebSocket handshake to the deployment; resolves with the refusal's status and headers. */
function handshake(authorization: string, from: string): Promise<{ status: number; retryAfter?: string }> {
  const socket = new WebSocket(`${t.node.urls.inference.replace('http', 'ws')}/model/socket`, {
    headers: { authorization },
    localAddress: from,
  });
  return new Promise((resolve) => {
    socket.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      res.resume();
    });
    socket.on('open', () => {
      resolve({ status: 101 });
      socket.close();
    });
    socket.on('error', () => resolve({ status: -1 }));
  });
}

describe('data plane: WebSocket handshakes are throttled like requests', () => {
  it('guesses by handshake lock the address out of handshakes and requests alike', async () => {
    const from = '127.0.10.240';
    for (let i = 0; i < LIMIT; i++) {
      expect((await handshake(bearer(generateCredential('api_key')), from)).status).toBe(401);
    }
    const locked = await handshake(bearer(apiKey), from);
    expect(locked.status).toBe(429);
    expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
    expectThrottled(await predict(bearer(apiKey), from));
  });
});

describe('data plane: parallel guesses cannot exceed the limit', () => {
  it.each([
    ['unknown API keys', '127.0.11.1', () => bearer(generateCredential('api_key'))],
    ['wrong Basic passwords', '127.0.11.2', () => basic('modelgate', `guess-${Math.random()}`)],
    ['wrong Basic usernames', '127.0.11.3', () => basic(`user-${Math.random()}`, 'x')],
    ['unknown inference keys', '127.0.11.4', () => bearer(generateCredential('inference_key'))],
  ])('20 %s at once: at most the limit are checked, the rest are 429', async (_name, from, guess) => {
    const results = await Promise.all(Array.from({ length: 20 }, () => predict(guess(), from)));
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT);
    for (const throttled of results.filter((r) => r.status === 429)) expectThrottled(throttled);
    expectThrottled(await predict(bearer(apiKey), from));
  });

  it('20 at once, half of them valid: still no more than the limit of guesses get an answer', async () => {
    const from = '127.0.11.5';
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        predict(i % 2 ? bearer(apiKey) : bearer(generateCredential('api_key')), from),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT);
  });

  it('no credential and a valid credential without access are not failures', async () => {
    const from = '127.0.11.6';
    for (let i = 0; i < LIMIT * 2; i++) {
      expect((await predict(undefined, from)).status).toBe(401);
      expect((await predict(bearer(t.keys.management), from)).status).toBe(403);
    }
    expect((await predict(bearer(apiKey), from)).status).toBe(200);
  });
});

describe('data plane: the password-check cap is shared fairly', () => {
  it.each([
    ['one flooding address', ['127.0.12.1']],
    ['three flooding addresses', ['127.0.12.11', '127.0.12.12', '127.0.12.13']],
  ])(
    '%s: its refusals count against it and it is locked out; another address’s first Basic login succeeds',
    async (_name, flooders) => {
      // A new revision with a new password: nobody's login is cached, every check costs scrypt.
      password = `fresh-${Math.random()}`;
      expect((await manage(t, 'PUT', '/secrets/model-password', { value: password })).status).toBe(200);
      expect((await manage(t, 'POST', '/deployments/model/redeploy')).status).toBe(200);
      const flood = flooders.flatMap((from) =>
        // Exactly the limit each: every one is a failure, checked or refused for the address's share.
        Array.from({ length: LIMIT }, () => predict(basic('modelgate', `guess-${Math.random()}`), from)),
      );
      // The bystander's first login needs a password check while the flood holds what it may.
      const bystander = `127.0.12.${100 + flooders.length}`;
      const first = predict(basic('modelgate', password), bystander);
      const floodStatuses = (await Promise.all(flood)).map((r) => r.status);
      expect(floodStatuses.every((s) => s === 401 || s === 429)).toBe(true);
      expect((await first).status).toBe(200);
      // Every flooding address is locked out now, even with the right password.
      for (const from of flooders) expectThrottled(await predict(basic('modelgate', password), from));
    },
  );
});

describe('management API and /token: failure throttling per address', () => {
  const guesses = {
    'unknown admin keys': () => bearer(generateCredential('admin_key')),
    'wrong management keys': () => bearer(generateCredential('management_key')),
    'malformed bearers': () => 'Bearer mgm_not-a-key',
    'Basic credentials': () => basic('admin', 'admin'),
  };

  it.each(Object.entries(guesses).map(([name, guess], i) => [name, guess, `127.0.13.${i + 1}`] as const))(
    '%s on /api/v1: 429 + Retry-After after the limit, for every credential; another address is unaffected',
    async (_name, guess, from) => {
      const routes = ['/api/v1/whoami', '/api/v1/deployments', '/api/v1/secrets', '/api/v1/api-keys'];
      for (let i = 0; i < LIMIT; i++) {
        const res = await management(routes[i % routes.length]!, guess(), from);
        expect(res.status).toBe(401);
      }
      expectThrottled(await management('/api/v1/whoami', bearer(t.keys.management), from));
      expectThrottled(await management('/api/v1/whoami', bearer(adminKey), from));
      expectThrottled(await management('/token?type=inference', bearer(t.keys.api), from, 'POST'));
      const other = await management('/api/v1/whoami', bearer(adminKey), '127.0.13.200');
      expect(other.status).toBe(200);
      expect(other.json.kind).toBe('admin_key');
    },
  );

  it('guesses interleaved with a valid admin key are still locked out', async () => {
    const from = '127.0.13.10';
    for (let i = 0; i < LIMIT; i++) {
      expect((await management('/api/v1/whoami', bearer(adminKey), from)).status).toBe(200);
      expect((await management('/api/v1/whoami', bearer(generateCredential('admin_key')), from)).status).toBe(401);
    }
    expectThrottled(await management('/api/v1/whoami', bearer(adminKey), from));
  });

  it('20 parallel guesses at admin keys: at most the limit are looked up', async () => {
    const from = '127.0.13.11';
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        management('/api/v1/deployments', bearer(generateCredential('admin_key')), from),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT);
    expectThrottled(await management('/api/v1/deployments', bearer(adminKey), from));
  });

  it('/token: bad API keys lock the address out; the real API key then gets 429; another address rotates', async () => {
    const from = '127.0.14.1';
    for (let i = 0; i < LIMIT; i++) {
      const method = i % 2 ? 'GET' : 'POST';
      const res = await management('/token?type=management', bearer(generateCredential('token_api_key')), from, method);
      expect(res.status).toBe(401);
    }
    expectThrottled(await management('/token?type=management', bearer(t.keys.api), from, 'POST'));
    expectThrottled(await management('/api/v1/whoami', bearer(t.keys.management), from));
    const rotated = await management('/token?type=inference', bearer(t.keys.api), '127.0.14.2', 'POST');
    expect(rotated.status).toBe(200);
    t.keys.inference = rotated.json.key;
  });

  it('/token: 20 parallel guesses at the API key, at most the limit are checked', async () => {
    const from = '127.0.14.3';
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        management('/token?type=management', bearer(generateCredential('token_api_key')), from, 'POST'),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(LIMIT);
  });

  it('no credential and a valid credential of the wrong kind (403) are not failures', async () => {
    const from = '127.0.14.4';
    for (let i = 0; i < LIMIT * 2; i++) {
      expect((await management('/api/v1/whoami', undefined, from)).status).toBe(401);
      expect((await management('/api/v1/whoami', bearer(t.keys.api), from)).status).toBe(403);
    }
    expect((await management('/api/v1/whoami', bearer(adminKey), from)).status).toBe(200);
  });

  it('the management lock does not spill over to model traffic, nor the data-plane lock to management', async () => {
    const from = '127.0.14.5';
    for (let i = 0; i < LIMIT; i++) await management('/api/v1/whoami', bearer(generateCredential('admin_key')), from);
    expectThrottled(await management('/api/v1/whoami', bearer(adminKey), from));
    expect((await predict(bearer(apiKey), from)).status).toBe(200);
    const other = '127.0.14.6';
    for (let i = 0; i < LIMIT; i++) await predict(bearer(generateCredential('api_key')), other);
    expectThrottled(await predict(bearer(apiKey), other));
    expect((await management('/api/v1/whoami', bearer(adminKey), other)).status).toBe(200);
  });
});
