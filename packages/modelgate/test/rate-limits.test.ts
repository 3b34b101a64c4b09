import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { MemoryRateCounter } from '../src/dataplane/rate-counter.js';
import { rateLimitHeaders } from '../src/dataplane/stages/rate-limit.js';
import { parseRateLimit, readRateLimit } from '../src/kernel/rate-limit.js';
import { Problems } from '../src/kernel/validation.js';
import { manageOn, type Replica, startReplica } from './helpers/cluster.js';
import { call } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { type NodeProcess, runCliToEnd, startNodeProcess, tempDir } from './helpers/node-process.js';
import { api, userWithSession } from './helpers/people.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { dropPrefix, REDIS_URL } from './helpers/redis.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 20, per-credential rate limits (X3): a deployment's `rate_limit` counts each credential
 * (or all callers, `by: deployment`); an API key or API token may carry its own. Over it: 429
 * `RATE_LIMITED` with `Retry-After` and the IETF `RateLimit-Policy` / `RateLimit` fields. The
 * count is the node's (its workers ask the primary) and, with `redis_url`, the cluster's.
 */

describe('the counter and the fields (pure)', () => {
  it('counts fixed windows on the clock: N allowed, then refused until the window ends', () => {
    let now = 60_000 * 100 + 10_000; // 10 s into a minute
    const counter = new MemoryRateCounter(() => now);
    const limit = { requests: 3, per: 'minute' } as const;
    const seen = Array.from({ length: 4 }, () => counter.take('k', limit));
    expect(seen.map((c) => c.allowed)).toEqual([true, true, true, false]);
    expect(seen.map((c) => c.remaining)).toEqual([2, 1, 0, 0]);
    expect(seen[3]?.resetMs).toBe(50_000);
    // Another key has its own count; the next minute starts from zero.
    expect(counter.take('other', limit).allowed).toBe(true);
    now += 50_000;
    expect(counter.take('k', limit)).toEqual({ allowed: true, remaining: 2, resetMs: 60_000 });
  });

  it('stays bounded: past its size, ended windows go first', () => {
    let now = 0;
    const counter = new MemoryRateCounter(() => now, 3);
    for (const key of ['a', 'b', 'c']) counter.take(key, { requests: 1, per: 'second' });
    now = 1_000;
    counter.take('d', { requests: 1, per: 'second' });
    // `a` was forgotten with the others of the ended second: allowed again.
    expect(counter.take('a', { requests: 1, per: 'second' }).allowed).toBe(true);
  });

  it('writes RateLimit-Policy and RateLimit as the IETF draft does', () => {
    const headers = rateLimitHeaders(
      { limit: { requests: 100, per: 'minute' }, policy: 'credential' },
      { allowed: false, remaining: 0, resetMs: 12_300 },
    );
    expect(headers).toEqual({ 'ratelimit-policy': '"credential";q=100;w=60', ratelimit: '"credential";r=0;t=13' });
  });

  it('reads and checks limits, naming the nearest window for a typo', () => {
    expect(readRateLimit('100/minute', true)).toEqual({ requests: 100, per: 'minute' });
    expect(readRateLimit('5/hour,deployment', true)).toEqual({ requests: 5, per: 'hour', by: 'deployment' });
    expect(readRateLimit('none', false)).toBeNull();
    expect(readRateLimit('5/minit', true)).toMatch(/"minit" is not a window \(did you mean minute\?\)/);
    expect(readRateLimit('5/hour,deployment', false)).toMatch(/is not what a limit is counted by/);
    expect(readRateLimit('0/second', false)).toMatch(/from 1 to/);
    const problems = new Problems();
    parseRateLimit(problems, 'rate_limit', { requests: 1.5, per: 'sec', by: 'everyone', burst: 3 }, true);
    expect(() => problems.throwIfAny()).toThrow(
      /rate_limit.burst is not a setting.*rate_limit.requests must be a whole number.*rate_limit.per must be one of second, minute, hour \(did you mean second\?\).*rate_limit.by must be one of credential, deployment/,
    );
  });
});

describe('a node with rate limits', () => {
  let t: TestNode;
  let up: TestUpstream;
  let cwd: string;

  beforeAll(async () => {
    up = await recordingUpstream('model');
    t = await startTestNode();
    cwd = tempDir();
    writeFileSync(join(cwd, 'key_file.json'), JSON.stringify({ management: { key: t.keys.management } }));
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
  });

  const predict = (name: string, credential?: string, localAddress?: string) =>
    call(`${t.node.urls.inference}/${name}/predict`, {
      headers: credential ? { authorization: `Bearer ${credential}` } : {},
      ...(localAddress ? { localAddress } : {}),
    });
  const statuses = async (n: number, name: string, credential?: string, localAddress?: string) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await predict(name, credential, localAddress)).status);
    return out;
  };
  const keysOf = async (deployment: string, count: number, rateLimit?: unknown) => {
    const res = await manage(t, 'POST', '/api-keys', {
      deployment,
      count,
      ...(rateLimit === undefined ? {} : { rate_limit: rateLimit }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return (res.body.api_keys as { key: string }[]).map((k) => k.key);
  };
  const cli = (args: string[]) => runCliToEnd([...args, '--endpoint', t.node.urls.management], { cwd });

  it('each credential has its own count; over it, 429 RATE_LIMITED with Retry-After and the IETF fields', async () => {
    const made = await deploy(t, {
      name: 'limited',
      upstream: up.url,
      access: 'protected',
      rate_limit: { requests: 3, per: 'hour' },
    });
    expect(made.deployment.rate_limit).toEqual({ requests: 3, per: 'hour' });
    const [a, b] = await keysOf('limited', 2);
    const hits = up.hits.length;
    expect(await statuses(3, 'limited', a)).toEqual([200, 200, 200]);
    const over = await predict('limited', a);
    expect(over.status).toBe(429);
    expect(over.json.error.code).toBe('RATE_LIMITED');
    expect(over.json.error.message).toMatch(/Over the rate limit of 3 requests per hour for this credential/);
    const retry = Number(over.headers['retry-after']);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(3600);
    expect(over.headers['ratelimit-policy']).toBe('"credential";q=3;w=3600');
    expect(over.headers.ratelimit).toBe(`"credential";r=0;t=${retry}`);
    // The refused request never reached the model; the other key still has its own three.
    expect(up.hits.length - hits).toBe(3);
    expect(await statuses(3, 'limited', b)).toEqual([200, 200, 200]);
    expect((await predict('limited', b)).status).toBe(429);
  });

  it('by deployment: all callers share one count', async () => {
    await deploy(t, {
      name: 'shared',
      upstream: up.url,
      access: 'protected',
      rate_limit: { requests: 4, per: 'hour', by: 'deployment' },
    });
    const [a, b] = await keysOf('shared', 2);
    expect([...(await statuses(2, 'shared', a)), ...(await statuses(2, 'shared', b))]).toEqual([200, 200, 200, 200]);
    const over = await predict('shared', t.keys.inference);
    expect(over.status).toBe(429);
    expect(over.headers['ratelimit-policy']).toBe('"deployment";q=4;w=3600');
    expect(over.json.error.message).toMatch(/for this deployment/);
  });

  it("an API key's own limit replaces its deployment's, and applies where the deployment has none", async () => {
    const [generous] = await keysOf('limited', 1, { requests: 5, per: 'hour' });
    expect(await statuses(6, 'limited', generous)).toEqual([200, 200, 200, 200, 200, 429]);
    await deploy(t, { name: 'open-ended', upstream: up.url, access: 'protected' });
    const [strict] = await keysOf('open-ended', 1, { requests: 1, per: 'hour' });
    const [plain] = await keysOf('open-ended', 1);
    expect(await statuses(2, 'open-ended', strict)).toEqual([200, 429]);
    expect(await statuses(5, 'open-ended', plain)).toEqual([200, 200, 200, 200, 200]);
    // A roll keeps the key's own limit.
    const listed = await manage(t, 'GET', '/api-keys?deployment=open-ended');
    const strictId = listed.body.api_keys.find((k: { rate_limit: unknown }) => k.rate_limit !== null).id;
    const rolled = await manage(t, 'POST', `/api-keys/${strictId}/roll`, {});
    expect(rolled.body.rate_limit).toEqual({ requests: 1, per: 'hour' });
  });

  it("an API token's own limit counts on each deployment it calls", async () => {
    expect((await manage(t, 'POST', '/groups', { name: 'admins', privileges: ['admin'] })).status).toBe(201);
    const session = await userWithSession(t, 'root', ['admins']);
    const made = await api(t, session, 'POST', '/tokens', {
      name: 'metered',
      endpoint_access: { all: true },
      rate_limit: { requests: 2, per: 'hour' },
    });
    expect(made.status, made.text).toBe(201);
    expect(made.body.rate_limit).toEqual({ requests: 2, per: 'hour' });
    expect(await statuses(3, 'open-ended', made.body.token)).toEqual([200, 200, 429]);
    const bad = await api(t, session, 'POST', '/tokens', {
      name: 'bad',
      endpoint_access: { all: true },
      rate_limit: { requests: 2, per: 'hour', by: 'deployment' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('rate_limit.by is not a setting of a rate limit');
  });

  it('a public deployment counts each client address', async () => {
    await deploy(t, { name: 'public', upstream: up.url, access: 'public', rate_limit: { requests: 2, per: 'hour' } });
    expect(await statuses(3, 'public', undefined, '127.0.0.1')).toEqual([200, 200, 429]);
    expect(await statuses(2, 'public', undefined, '127.0.0.2')).toEqual([200, 200]);
  });

  it('bad limits are refused with a stable code and what to write; a limit is removed with null', async () => {
    const bad = await manage(t, 'PATCH', '/deployments/limited', { rate_limit: { requests: 0, per: 'minit' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.message).toContain('rate_limit.requests must be a whole number from 1 to');
    expect(bad.body.error.message).toContain('(did you mean minute?)');
    const removed = await manage(t, 'PATCH', '/deployments/limited', { rate_limit: null });
    expect(removed.status).toBe(200);
    expect(removed.body.rate_limit).toBeNull();
    const [key] = await keysOf('limited', 1);
    expect(await statuses(5, 'limited', key)).toEqual([200, 200, 200, 200, 200]);
  });

  it('a changed limit is stored: a later read and a redeploy keep it', async () => {
    await deploy(t, { name: 'kept', upstream: up.url, access: 'protected', rate_limit: { requests: 9, per: 'hour' } });
    const changed = await manage(t, 'PATCH', '/deployments/kept', { rate_limit: { requests: 1, per: 'hour' } });
    expect(changed.body.rate_limit).toEqual({ requests: 1, per: 'hour' });
    expect((await manage(t, 'GET', '/deployments/kept')).body.rate_limit).toEqual({ requests: 1, per: 'hour' });
    const redeployed = await manage(t, 'POST', '/deployments/kept/redeploy');
    expect(redeployed.body.rate_limit).toEqual({ requests: 1, per: 'hour' });
    const [key] = await keysOf('kept', 1);
    expect(await statuses(2, 'kept', key)).toEqual([200, 429]);
  });

  it('the CLI sets, shows and removes limits; a bad value is refused before any request', async () => {
    const made = await cli(['deploy', 'cli-limited', '--upstream', up.url, '--rate-limit', '2/minute']);
    expect(made.code, made.all).toBe(0);
    expect(made.stdout).toMatch(/^rate limit:\s+2\/minute per caller$/m);
    const shared = await cli(['deployments', 'update', 'cli-limited', '--rate-limit', '50/hour,deployment']);
    expect(shared.stdout).toMatch(/^rate limit:\s+50\/hour \(whole deployment\)$/m);
    const none = await cli(['deployments', 'update', 'cli-limited', '--rate-limit', 'none']);
    expect(none.stdout).toMatch(/^rate limit:\s+none$/m);
    const typo = await cli(['deployments', 'update', 'cli-limited', '--rate-limit', '5/minit']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"minit" is not a window (did you mean minute?)');
    const key = await cli([
      'api-keys',
      'create',
      '--deployment',
      'cli-limited',
      '--rate-limit',
      '1/hour',
      '-o',
      'json',
    ]);
    expect(key.code, key.all).toBe(0);
    const created = JSON.parse(key.stdout).api_keys[0];
    expect(created.rate_limit).toEqual({ requests: 1, per: 'hour' });
    expect(await statuses(2, 'cli-limited', created.key)).toEqual([200, 429]);
  });

  it('apply, diff and export carry a deployment’s limit', async () => {
    const file = join(cwd, 'limits.yaml');
    const doc = {
      version: 1,
      deployments: [{ name: 'declared', upstream: up.url, rate_limit: { requests: 10, per: 'second' } }],
    };
    writeFileSync(file, stringify(doc));
    const applied = await cli(['apply', '-f', file]);
    expect(applied.code, applied.all).toBe(0);
    expect(applied.stdout).toContain('rate limit 10/second');
    expect((await manage(t, 'GET', '/deployments/declared')).body.rate_limit).toEqual({ requests: 10, per: 'second' });
    expect((await cli(['diff', '-f', file])).code).toBe(0);
    doc.deployments[0]!.rate_limit = { requests: 20, per: 'minute' };
    writeFileSync(file, stringify(doc));
    const diff = await cli(['diff', '-f', file]);
    expect(diff.stdout).toContain('rate_limit: 10/second → 20/minute');
    const exported = await cli(['export']);
    expect(exported.stdout).toMatch(/name: declared[\s\S]*?rate_limit:\s*\n\s*requests: 10\s*\n\s*per: second/);
    const broken = join(cwd, 'broken.yaml');
    writeFileSync(
      broken,
      stringify({
        version: 1,
        deployments: [{ name: 'x', upstream: up.url, rate_limit: { requests: 1, per: 'day' } }],
      }),
    );
    const refused = await cli(['apply', '-f', broken]);
    expect(refused.code).not.toBe(0);
    expect(refused.all).toContain('deployments[0].rate_limit: per must be one of second, minute, hour');
  });
});

describe('a node with two workers counts once for the node', () => {
  let node: NodeProcess;
  let up: TestUpstream;
  beforeAll(async () => {
    up = await recordingUpstream('model');
    node = await startNodeProcess(['--workers', '2']);
  });
  afterAll(async () => {
    await node?.stop();
    await up?.close();
  });

  it('a limit of 10 admits 10 of 30 requests over fresh connections (spread over both workers)', async () => {
    const key = JSON.parse(
      (
        await runCliToEnd(
          [
            'deploy',
            'm',
            '--upstream',
            up.url,
            '--rate-limit',
            '10/hour',
            '--api-keys',
            '1',
            '-o',
            'json',
            '--endpoint',
            node.urls.management,
          ],
          { cwd: node.cwd },
        )
      ).stdout,
    ).api_keys[0].key as string;
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        call(`${node.urls.inference}/m/predict`, { headers: { authorization: `Bearer ${key}` } }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(20);
  });
});

describe('three replicas on Redis share one count', () => {
  let db: { url: string; name: string; drop(): Promise<void> };
  let up: TestUpstream;
  let replicas: Replica[] = [];
  let prefix: string;

  beforeAll(async () => {
    db = await createScratchDatabase();
    prefix = `${db.name}:`;
    up = await recordingUpstream('model');
    const masterKey = randomBytes(32).toString('hex');
    const args = ['--redis-url', REDIS_URL, '--redis-key-prefix', prefix, '--redis-timeout-ms', '2000'];
    replicas = await Promise.all([
      startReplica(db.url, masterKey, args),
      startReplica(db.url, masterKey, args),
      startReplica(db.url, masterKey, [...args, '--workers', '2']),
    ]);
  }, 180_000);
  afterAll(async () => {
    for (const r of replicas) await r.proc.stop();
    await up?.close();
    await dropPrefix(prefix).catch(() => {});
    await db?.drop();
  });

  it('a limit of N admits exactly N across the replicas (parallel requests, fresh connections)', async () => {
    const N = 300;
    const first = replicas[0] as Replica;
    const mk = first.keys().management;
    const made = await manageOn(first, mk, 'POST', '/deployments', {
      name: 'm',
      upstream: up.url,
      access: 'protected',
      rate_limit: { requests: N, per: 'hour' },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const key = (await manageOn(first, mk, 'POST', '/api-keys', { deployment: 'm' })).body.api_keys[0].key;
    // Twice the limit, round robin over the replicas, 30 at a time.
    const statuses: number[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          call(`${(replicas[i % 3] as Replica).proc.urls.inference}/m/predict`, {
            headers: { authorization: `Bearer ${key}` },
          }),
        ),
      );
      statuses.push(...answers.map((a) => a.status));
    }
    const admitted = statuses.filter((s) => s === 200).length;
    // Exact with Redis up (the issue asks for 1 %); a window boundary (a new hour) mid-test would add one.
    expect(admitted).toBeGreaterThanOrEqual(N);
    expect(admitted).toBeLessThanOrEqual(Math.ceil(N * 1.01));
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
  });
});
