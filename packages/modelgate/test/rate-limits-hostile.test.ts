import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryRateCounter } from '../src/dataplane/rate-counter.js';
import { type AuditRow, waitForAudit } from './helpers/audit.js';
import { call } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 20, rate limits (X3), from the side of those they limit: a limit set by whoever may change
 * the deployment holds against everyone who may only call it. A reader mints API tokens and
 * platform JWTs at will, so neither a token's own limit nor a fresh credential lifts the
 * deployment's; a service owner's version key does not lift an infrastructure's deployment limit;
 * one credential over its own limit does not use up what the deployment shares among all.
 */
let t: TestNode;
let up: TestUpstream;
let reader: string; // reads `metered` (service read, infrastructure view), nothing more
let owner: string; // deploys the service `metered`, only views the infrastructure

beforeAll(async () => {
  up = await recordingUpstream('model');
  t = await startTestNode();
  const m = t.keys.management;
  for (const name of ['readers', 'owners']) expect((await api(t, m, 'POST', '/groups', { name })).status).toBe(201);
  expect((await api(t, m, 'POST', '/infrastructures', { name: 'prod' })).status).toBe(201);
  expect((await api(t, m, 'POST', '/services', { name: 'metered' })).status).toBe(201);
  const grants: [string, string[]][] = [
    ['/infrastructures/prod/grants/readers', ['view']],
    ['/services/metered/grants/readers', ['read']],
    ['/infrastructures/prod/grants/owners', ['view']],
    ['/services/metered/grants/owners', ['read', 'deploy']],
  ];
  for (const [path, rights] of grants) expect((await api(t, m, 'PUT', path, { rights })).status).toBeLessThan(300);
  const made = await manage(t, 'POST', '/deployments', {
    name: 'metered',
    service: 'metered',
    infrastructure: 'prod',
    upstream: up.url,
    access: 'protected',
    rate_limit: { requests: 2, per: 'hour' },
  });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  reader = await userWithSession(t, 'limited-reader', ['readers']);
  owner = await userWithSession(t, 'service-owner', ['owners']);
});
afterAll(async () => {
  await t?.close();
  await up?.close();
});

const predict = (name: string, credential: string) =>
  call(`${t.node.urls.inference}/${name}/predict`, { headers: { authorization: `Bearer ${credential}` } });
const statuses = async (name: string, credentials: readonly string[]) => {
  const out: number[] = [];
  for (const credential of credentials) out.push((await predict(name, credential)).status);
  return out;
};

describe('a limit holds against those who may only call the deployment', () => {
  it("a reader's API token with a higher limit of its own is still held to the deployment's", async () => {
    const made = await api(t, reader, 'POST', '/tokens', {
      name: 'greedy',
      endpoint_access: { deployments: ['metered'] },
      rate_limit: { requests: 1000, per: 'second' },
    });
    expect(made.status, made.text).toBe(201);
    const token = made.body.token as string;
    expect(await statuses('metered', [token, token, token])).toEqual([200, 200, 429]);
    // Its own limit still narrows: a token limited to 1 is refused at the second.
    const strict = await api(t, owner, 'POST', '/tokens', {
      name: 'strict',
      endpoint_access: { deployments: ['metered'] },
      rate_limit: { requests: 1, per: 'hour' },
    });
    expect(strict.status, strict.text).toBe(201);
    const over = await predict('metered', strict.body.token);
    expect(over.status).toBe(200);
    const second = await predict('metered', strict.body.token);
    expect(second.status).toBe(429);
    expect(second.headers['ratelimit-policy']).toBe('"credential";q=1;w=3600');
  });

  it('a reader gets no fresh count from new tokens, a roll or platform JWTs: the count is the person’s', async () => {
    const person = await userWithSession(t, 'minter', ['readers']);
    const mint = async (name: string) => {
      const made = await api(t, person, 'POST', '/tokens', { name, endpoint_access: { deployments: ['metered'] } });
      expect(made.status, made.text).toBe(201);
      return made.body as { id: string; token: string };
    };
    const first = await mint('one');
    expect(await statuses('metered', [first.token])).toEqual([200]);
    const rolled = await api(t, person, 'POST', `/tokens/${first.id}/roll`, { grace_seconds: 0 });
    expect(rolled.status, rolled.text).toBe(201);
    expect(await statuses('metered', [rolled.body.token])).toEqual([200]);
    const second = await mint('two');
    const jwts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const issued = await api(t, person, 'POST', '/issue-jwt', { deployment: 'metered' });
      expect(issued.status, issued.text).toBe(200);
      jwts.push(issued.body.token);
    }
    expect(await statuses('metered', [second.token, ...jwts])).toEqual([429, 429, 429]);
    // Another person has a count of their own.
    const other = await userWithSession(t, 'other-reader', ['readers']);
    const theirs = await api(t, other, 'POST', '/issue-jwt', { deployment: 'metered' });
    expect(await statuses('metered', [theirs.body.token])).toEqual([200]);
  });

  it("a service owner's version key does not lift the limit of a deployment on an infrastructure they only view", async () => {
    const made = await api(t, owner, 'POST', '/api-keys', {
      service: 'metered',
      version: '1',
      rate_limit: { requests: 1000, per: 'second' },
    });
    expect(made.status, made.text).toBe(201);
    const key = made.body.api_keys[0].key as string;
    expect(await statuses('metered', [key, key, key])).toEqual([200, 200, 429]);
    // What they could not do themselves: change the deployment's limit.
    const lift = await api(t, owner, 'PATCH', '/deployments/metered', { rate_limit: null });
    expect(lift.status).toBe(403);
  });

  it("a deployment's own key, made by one who may change the deployment, may have a higher limit", async () => {
    const made = await manage(t, 'POST', '/api-keys', {
      deployment: 'metered',
      rate_limit: { requests: 3, per: 'hour' },
    });
    const key = made.body.api_keys[0].key as string;
    expect(await statuses('metered', [key, key, key, key])).toEqual([200, 200, 200, 429]);
  });
});

describe('a shared limit is not used up by refused requests', () => {
  it('a key over its own limit does not take what the deployment shares among all callers', async () => {
    const made = await manage(t, 'POST', '/deployments', {
      name: 'pooled',
      upstream: up.url,
      access: 'protected',
      rate_limit: { requests: 5, per: 'hour', by: 'deployment' },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const flood = (
      await manage(t, 'POST', '/api-keys', { deployment: 'pooled', rate_limit: { requests: 1, per: 'hour' } })
    ).body.api_keys[0].key as string;
    const calm = (await manage(t, 'POST', '/api-keys', { deployment: 'pooled' })).body.api_keys[0].key as string;
    expect(await statuses('pooled', Array(10).fill(flood))).toEqual([200, ...Array(9).fill(429)]);
    // The flood was refused by its own limit: the deployment's 5 had one used.
    expect(await statuses('pooled', Array(5).fill(calm))).toEqual([200, 200, 200, 200, 429]);
  });
});

describe('the memory counter under a flood of new callers', () => {
  it('full of live windows, new keys (fresh addresses of an IPv6 /48) do not each cost a sweep of every slot', () => {
    const max = 1_000;
    const counter = new MemoryRateCounter(() => 0, max);
    const limit = { requests: 10, per: 'hour' } as const;
    for (let i = 0; i < max; i++) counter.take(`dep|address:2001:db8:0:${i.toString(16)}::/64`, limit);
    const sweeps = vi.spyOn(Map.prototype, Symbol.iterator);
    try {
      for (let i = 0; i < max; i++) counter.take(`dep|address:2001:db8:1:${i.toString(16)}::/64`, limit);
      // One sweep makes room for a tenth of the slots: ten sweeps for as many new keys as slots, not one each.
      expect(sweeps.mock.calls.length).toBeLessThanOrEqual(10);
    } finally {
      sweeps.mockRestore();
    }
    // Still bounded, and the newest callers are still counted.
    const newest = `dep|address:2001:db8:1:${(max - 1).toString(16)}::/64`;
    expect(counter.take(newest, limit).remaining).toBe(8);
  });
});

describe('every way in counts, and a refusal names the caller', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({ trusted_proxies: '127.0.0.1/32' });
  });
  afterAll(() => node?.close());

  it('a request, the browser cookie, a WebSocket handshake and a forward-auth decision draw on one count', async () => {
    const made = await deploy(node, {
      name: 'every-way',
      upstream: up.url,
      access: 'protected',
      api_keys: 1,
      rate_limit: { requests: 4, per: 'hour' },
    });
    const key = made.api_keys[0].key as string;
    const base = `${node.node.urls.inference}/every-way/x`;
    const ways = {
      header: () => call(base, { headers: { authorization: `Bearer ${key}` } }),
      cookie: () => call(base, { headers: { cookie: `modelgate_token=${key}` } }),
      websocket: () =>
        call(base, {
          headers: {
            authorization: `Bearer ${key}`,
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'sec-websocket-version': '13',
          },
        }),
      forwardAuth: () =>
        call(`${node.node.urls.inference}/_modelgate/auth/traefik`, {
          headers: {
            authorization: `Bearer ${key}`,
            'x-forwarded-method': 'GET',
            'x-forwarded-proto': 'http',
            'x-forwarded-host': 'models.example',
            'x-forwarded-uri': '/every-way/x',
          },
        }),
    };
    for (const [way, send] of Object.entries(ways)) expect([way, (await send()).status]).toEqual([way, 200]);
    for (const [way, send] of Object.entries(ways)) {
      const over = await send();
      expect([way, over.status, over.json?.error?.code]).toEqual([way, 429, 'RATE_LIMITED']);
      expect(over.headers['ratelimit-policy']).toBe('"credential";q=4;w=3600');
    }
    // Audited as the key that was over its limit, never as anonymous.
    const keyId = (await manage(node, 'GET', '/api-keys?deployment=every-way')).body.api_keys[0].id as string;
    const limited = (rows: AuditRow[]) => rows.filter((r) => r.code === 'RATE_LIMITED');
    const refusals = limited(await waitForAudit(node, '', (rows) => limited(rows).length >= 4));
    expect(refusals).toHaveLength(4);
    for (const r of refusals) expect([r.actor_kind, r.actor, r.target_name]).toEqual(['api_key', keyId, 'every-way']);
  });
  it('a browser over the limit is told to wait, keeps its cookie, and is not asked for another token', async () => {
    const made = await deploy(node, {
      name: 'paged',
      upstream: up.url,
      access: 'protected',
      api_keys: 1,
      rate_limit: { requests: 1, per: 'hour' },
    });
    const headers = { cookie: `modelgate_token=${made.api_keys[0].key}`, accept: 'text/html' };
    expect((await call(`${node.node.urls.inference}/paged/`, { headers })).status).toBe(200);
    const page = await call(`${node.node.urls.inference}/paged/`, { headers });
    expect(page.status).toBe(429);
    expect(page.headers['retry-after']).toBeDefined();
    expect(page.headers['set-cookie']).toBeUndefined();
    expect(page.text).toMatch(/over its rate limit; try again in \d+ seconds/);
    expect(page.text).not.toContain('Enter a token to continue');
    expect(page.text).not.toContain('was refused');
  });
});
