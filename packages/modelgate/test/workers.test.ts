import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { call } from './helpers/http.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

const FAILURE_LIMIT = 3;

/**
 * `workers` > 1 on real sockets: every request below opens a fresh connection, and node:cluster
 * hands connections to the workers in turn, so each batch is served by every worker (checked
 * through the `pid` of the access lines, not assumed).
 */
describe.each([2, 3])('workers = %i', (workers) => {
  let node: NodeProcess;
  let upstream: TestUpstream;
  let management: string;
  let apiToken: string;
  const batch = workers * 4;

  const keyFile = () => JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8'));

  async function manage(method: string, path: string, body?: unknown, token = management) {
    const res = await call(`${node.urls.management}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return res;
  }

  /**
   * `batch` requests, each on a fresh connection; returns the statuses and the pids that served
   * them. `from` is the client address, or a /24 whose addresses are used one per request (so
   * a batch of refusals is not itself throttled).
   */
  async function spread(authorization: string, from = '127.0.0.1') {
    const tag = randomBytes(4).toString('hex');
    const statuses: number[] = [];
    for (let i = 0; i < batch; i++) {
      const res = await call(`${node.urls.inference}/w/predict`, {
        headers: { authorization, 'x-request-id': `wk-${tag}-${i}` },
        localAddress: from.endsWith('.') ? `${from}${i + 1}` : from,
      });
      statuses.push(res.status);
    }
    const lines = await Promise.all(statuses.map((_, i) => node.waitFor(new RegExp(`"request_id":"wk-${tag}-${i}"`))));
    const pids = new Set(lines.map((line) => (JSON.parse(line) as { pid: number }).pid));
    return { statuses, pids, ids: statuses.map((_, i) => `wk-${tag}-${i}`) };
  }

  beforeAll(async () => {
    upstream = await recordingUpstream('workers');
    node = await startNodeProcess([
      '--workers',
      String(workers),
      '--failure-limit',
      String(FAILURE_LIMIT),
      '--failure-window-s',
      '120',
    ]);
    management = keyFile().management.key;
    apiToken = keyFile().API.key;
    const made = await manage('POST', '/api/v1/deployments', {
      name: 'w',
      upstream: upstream.url,
      access: 'protected',
      api_keys: 0,
    });
    expect(made.status, made.text).toBe(201);
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
  });

  it('the primary reports the workers; the inference port is served by every one of them', async () => {
    expect(node.output()).toMatch(new RegExp(`"workers":${workers},"msg":"modelgate started"`));
    const { statuses, pids } = await spread(`Bearer ${keyFile().inference.key}`);
    expect(statuses).toEqual(Array(batch).fill(200));
    expect(pids.size).toBe(workers);
  });

  it('every worker has the same node keys, and a rotation through /token is in force in all before it answers', async () => {
    const before = keyFile().inference.key;
    const rotated = await manage('POST', '/token?type=inference', undefined, apiToken);
    expect(rotated.status, rotated.text).toBe(200);
    expect(keyFile().inference.key).toBe(rotated.json.key);

    const old = await spread(`Bearer ${before}`, `127.0.${workers}1.`);
    expect(old.statuses).toEqual(Array(batch).fill(401));
    expect(old.pids.size).toBe(workers);
    const fresh = await spread(`Bearer ${rotated.json.key}`);
    expect(fresh.statuses).toEqual(Array(batch).fill(200));
    expect(fresh.pids.size).toBe(workers);
  });

  it('a deleted API key is refused by every worker on the very next request after the DELETE returns', async () => {
    const made = await manage('POST', '/api/v1/api-keys', { deployment: 'w', description: 'spread' });
    expect(made.status, made.text).toBe(201);
    const { id, key } = made.json.api_keys[0];
    // Every worker has it cached now.
    const warm = await spread(`Bearer ${key}`);
    expect(warm.statuses).toEqual(Array(batch).fill(200));
    expect(warm.pids.size).toBe(workers);

    expect((await manage('DELETE', `/api/v1/api-keys/${id}`)).status).toBe(204);
    const after = await spread(`Bearer ${key}`, `127.0.${workers}2.`);
    expect(after.statuses).toEqual(Array(batch).fill(401));
    expect(after.pids.size).toBe(workers);
  });

  it('a deleted API token is refused by every worker on the very next request after the DELETE returns', async () => {
    const password = 'correct horse battery staple workers';
    const username = `worker-user-${workers}`;
    expect((await manage('POST', '/api/v1/users', { username, password })).status).toBe(201);
    const session = (await manage('POST', '/api/v1/sessions', { username, password })).json.token as string;
    // The user's token opens `w` only if the user may read it: make the user an admin.
    const group = `worker-admins-${workers}`;
    expect((await manage('POST', '/api/v1/groups', { name: group, privileges: ['admin'] })).status).toBe(201);
    expect((await manage('PUT', `/api/v1/groups/${group}/members/${username}`)).status).toBeLessThan(300);
    const made = await manage('POST', '/api/v1/tokens', { name: 'spread', endpoint_access: { all: true } }, session);
    expect(made.status, made.text).toBe(201);
    const { id, token } = made.json;
    const warm = await spread(`Bearer ${token}`);
    expect(warm.statuses).toEqual(Array(batch).fill(200));
    expect(warm.pids.size).toBe(workers);

    expect((await manage('DELETE', `/api/v1/tokens/${id}`, undefined, session)).status).toBe(204);
    const after = await spread(`Bearer ${token}`, `127.0.${workers}3.`);
    expect(after.statuses).toEqual(Array(batch).fill(401));
    expect(after.pids.size).toBe(workers);
  });

  it('a revoked platform JWT is refused by every worker on the very next request after the revocation returns', async () => {
    // Every worker publishes the primary's signing keys.
    const jwks = await call(`${node.urls.management}/.well-known/jwks.json`);
    for (let i = 0; i < batch; i++) {
      const served = await call(`${node.urls.inference}/.well-known/jwks.json`);
      expect(served.status).toBe(200);
      expect(served.json).toEqual(jwks.json);
    }
    const issued = await manage('GET', '/api/v1/issue-jwt?deployment=w');
    expect(issued.status, issued.text).toBe(200);
    const { token, jti } = issued.json as { token: string; jti: string };
    // Verified, then cached, in every worker.
    const warm = await spread(`Bearer ${token}`);
    expect(warm.statuses).toEqual(Array(batch).fill(200));
    expect(warm.pids.size).toBe(workers);
    expect((await spread(`Bearer ${token}`)).statuses).toEqual(Array(batch).fill(200));

    const revoked = await manage('POST', '/api/v1/jwt-revocations', { jti });
    expect(revoked.status, revoked.text).toBe(201);
    const after = await spread(`Bearer ${token}`, `127.0.${workers}4.`);
    expect(after.statuses).toEqual(Array(batch).fill(401));
    expect(after.pids.size).toBe(workers);
  });

  it('a signing-key rotation is published by every worker before it answers, and its tokens open every worker', async () => {
    const rotated = await manage('POST', '/api/v1/signing-keys/rotate');
    expect(rotated.status, rotated.text).toBe(201);
    const { kid } = rotated.json as { kid: string };
    const jwks = await call(`${node.urls.management}/.well-known/jwks.json`);
    expect((jwks.json.keys as { kid: string }[]).map((k) => k.kid)).toContain(kid);
    for (let i = 0; i < batch; i++) {
      const served = await call(`${node.urls.inference}/.well-known/jwks.json`);
      expect(served.json).toEqual(jwks.json);
    }
    const issued = await manage('GET', '/api/v1/issue-jwt?deployment=w');
    const used = await spread(`Bearer ${(issued.json as { token: string }).token}`);
    expect(used.statuses).toEqual(Array(batch).fill(200));
    expect(used.pids.size).toBe(workers);
  });

  it('the throttle locks an address out after the configured failures, whichever workers served them', async () => {
    const attacker = '127.0.0.7';
    const made = await manage('POST', '/api/v1/api-keys', { deployment: 'w', description: 'victim' });
    const good = `Bearer ${made.json.api_keys[0].key}`;
    // Cached in every worker first, so the lock must hold on the cache-hit path too.
    expect((await spread(good, attacker)).statuses).toEqual(Array(batch).fill(200));

    const failures: number[] = [];
    const tag = randomBytes(4).toString('hex');
    for (let i = 0; i < FAILURE_LIMIT; i++) {
      const res = await call(`${node.urls.inference}/w/predict`, {
        headers: { authorization: `Bearer ${generateCredential('api_key')}`, 'x-request-id': `wk-bad-${tag}-${i}` },
        localAddress: attacker,
      });
      failures.push(res.status);
    }
    expect(failures).toEqual(Array(FAILURE_LIMIT).fill(401));
    // The failures were not all counted by one worker.
    const failedPids = new Set(
      await Promise.all(
        failures.map(
          async (_, i) => JSON.parse(await node.waitFor(new RegExp(`"request_id":"wk-bad-${tag}-${i}"`))).pid,
        ),
      ),
    );
    expect(failedPids.size).toBeGreaterThan(1);

    const locked = await spread(good, attacker);
    expect(locked.statuses).toEqual(Array(batch).fill(429));
    expect(locked.pids.size).toBe(workers);
    // Another address is unaffected.
    expect((await spread(good, '127.0.0.8')).statuses).toEqual(Array(batch).fill(200));
  });

  it("refusals served by every worker are written by the primary's one audit writer", async () => {
    const refused = await spread(`Bearer ${generateCredential('api_key')}`, `127.0.${workers}3.`);
    expect(refused.statuses).toEqual(Array(batch).fill(401));
    expect(refused.pids.size).toBe(workers);
    // Written off the request path, in batches: wait for them.
    let records: { request_id: string; target_name: string; outcome: string; code: string }[] = [];
    for (let tries = 0; tries < 100; tries++) {
      const page = await manage('GET', '/api/v1/audit?order=asc&limit=1000');
      expect(page.status, page.text).toBe(200);
      records = page.json.records.filter((r: { request_id: string }) => refused.ids.includes(r.request_id));
      if (records.length >= batch) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(records.map((r) => r.request_id).sort()).toEqual([...refused.ids].sort());
    for (const r of records)
      expect(r).toMatchObject({ target_name: 'w', outcome: 'denied', code: 'CREDENTIAL_UNKNOWN' });
  });
});

/**
 * Behind a trusted load balancer, each worker takes the client from `X-Forwarded-For` itself and
 * the primary's throttle counts that client, whichever worker and whichever balancer address
 * served the attempts.
 */
describe('workers = 2 behind trusted proxies', () => {
  let node: NodeProcess;
  let upstream: TestUpstream;

  beforeAll(async () => {
    upstream = await recordingUpstream('workers-xff');
    node = await startNodeProcess([
      '--workers',
      '2',
      '--trusted-proxies',
      '127.0.0.0/8',
      '--failure-limit',
      String(FAILURE_LIMIT),
      '--failure-window-s',
      '120',
    ]);
    const management = JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8')).management.key;
    const made = await call(`${node.urls.management}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${management}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'w', upstream: upstream.url, access: 'protected', api_keys: 0 }),
    });
    expect(made.status, made.text).toBe(201);
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.close();
  });

  it('locks out the forwarded client, not the balancer, and logs the client as remote', async () => {
    const attacker = '203.0.113.77';
    const tag = randomBytes(4).toString('hex');
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_LIMIT + 4; i++) {
      const res = await call(`${node.urls.inference}/w/predict`, {
        headers: {
          authorization: `Bearer ${generateCredential('api_key')}`,
          'x-forwarded-for': `${attacker}, 127.0.0.9`,
          'x-request-id': `xff-${tag}-${i}`,
        },
        // Different balancer addresses: the key must be the client's, not the peer's.
        localAddress: `127.0.9.${i + 1}`,
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(FAILURE_LIMIT).fill(401), ...Array(4).fill(429)]);
    const lines = await Promise.all(statuses.map((_, i) => node.waitFor(new RegExp(`"request_id":"xff-${tag}-${i}"`))));
    const parsed = lines.map((line) => JSON.parse(line) as { pid: number; remote: string });
    expect(new Set(parsed.map((l) => l.pid)).size).toBe(2);
    expect(new Set(parsed.map((l) => l.remote))).toEqual(new Set([attacker]));
    // Another client behind the same balancer is not locked out.
    const other = await call(`${node.urls.inference}/w/predict`, {
      headers: { authorization: `Bearer ${generateCredential('api_key')}`, 'x-forwarded-for': '203.0.113.78' },
      localAddress: '127.0.9.1',
    });
    expect(other.status).toBe(401);
  });
});
