import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { manageOn, type Replica, startReplica } from './helpers/cluster.js';
import { call } from './helpers/http.js';
import { type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { dropPrefix, type OwnRedis, ownRedis, until } from './helpers/redis.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 20, "shared counters on Redis": three replicas (real processes; C with two workers) on
 * one PostgreSQL database and one Redis (`redis_url`, a redis-server of this test's own, so it
 * can be killed and restarted). The failure throttle and the sign-in throttle count across the
 * replicas; with Redis gone each replica counts locally, says so in its metrics, its readiness
 * detail and its log (once), and shares again once Redis is back.
 */

/** `failure_limit` of every replica. */
const LIMIT = 6;

describe('three replicas sharing their counters on Redis', () => {
  let db: { url: string; name: string; drop(): Promise<void> };
  let redis: OwnRedis;
  let prefix: string;
  let up: TestUpstream;
  let replicas: Replica[];
  let mk: string;
  let apiKey: string;
  let address = 0;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    db = await createScratchDatabase();
    redis = await ownRedis();
    // One prefix per run, from the scratch database's name.
    prefix = `${db.name}:`;
    up = await recordingUpstream('model');
    const masterKey = randomBytes(32).toString('hex');
    const args = [
      '--redis-url',
      redis.url,
      '--redis-key-prefix',
      prefix,
      '--failure-limit',
      String(LIMIT),
      '--failure-window-s',
      '60',
      // Each test is a client of its own, named by X-Forwarded-For.
      '--trusted-proxies',
      '127.0.0.1',
      // Generous for a loaded machine: a slow acknowledgement must not look like a missing one.
      '--redis-timeout-ms',
      '2000',
      '--cluster-ack-timeout-ms',
      '3000',
    ];
    replicas = await Promise.all([
      startReplica(db.url, masterKey, args),
      startReplica(db.url, masterKey, args),
      startReplica(db.url, masterKey, [...args, '--workers', '2']),
    ]);
    mk = replicas[0]!.keys().management;
    expect(
      (
        await manageOn(replicas[0]!, mk, 'POST', '/deployments', {
          name: 'm',
          upstream: up.url,
          access: 'protected',
          infrastructure: 'dev',
        })
      ).status,
    ).toBe(201);
    const made = await manageOn(replicas[0]!, mk, 'POST', '/api-keys', { deployment: 'm' });
    expect(made.status).toBe(201);
    apiKey = made.body.api_keys[0].key;
  }, 180_000);

  afterAll(async () => {
    for (const r of replicas ?? []) await r.proc.stop();
    await up?.close();
    await dropPrefix(prefix, redis.url).catch(() => {});
    await redis?.kill();
    await db?.drop();
  });

  /** A client address of its own for each use (X-Forwarded-For through the trusted 127.0.0.1). */
  const newClient = () => `203.0.113.${++address}`;
  const predict = (r: Replica, client: string, credential: string) =>
    call(`${r.proc.urls.inference}/m/predict`, {
      headers: { authorization: `Bearer ${credential}`, 'x-forwarded-for': client },
    });
  const signIn = (r: Replica, client: string, username: string, secret: string) =>
    call(`${r.proc.urls.management}/api/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
      body: JSON.stringify({ username, password: secret }),
    });
  const redisUp = async (r: Replica): Promise<number | undefined> => {
    const text = (await call(`${r.proc.urls.metrics}/metrics`)).text;
    const found = /^modelgate_redis_up (\d+)$/m.exec(text);
    return found ? Number(found[1]) : undefined;
  };
  const ready = async (r: Replica) => {
    const res = await call(`${r.proc.urls.inference}/_health/ready`);
    return { status: res.status, body: res.json };
  };
  /** `LIMIT` failures from `client`, round robin over the replicas (each answered before the next). */
  const failSpread = async (client: string, on: readonly Replica[] = replicas) => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await predict(on[i % on.length]!, client, generateCredential('api_key'));
      expect(res.status).toBe(401);
    }
  };

  it('reports Redis up: metric 1, readiness detail "up"', async () => {
    for (const r of replicas) {
      expect(await redisUp(r)).toBe(1);
      expect(await ready(r)).toEqual({ status: 200, body: { status: 'ready', redis: 'up' } });
      expect(r.proc.output()).toMatch(/Redis connected/);
    }
  });

  it('the failure throttle locks an address out after N failures spread over the three replicas', async () => {
    const client = newClient();
    // Each replica has the valid key cached for this client: the lock must reach the cache-hit path.
    for (const r of replicas) expect((await predict(r, client, apiKey)).status).toBe(200);
    // Two failures per replica: below the limit on each, the limit together.
    await failSpread(client);
    // In force on every replica (and C's two workers) as soon as the locking failure answered.
    for (const r of replicas) {
      for (let i = 0; i < 3; i++) {
        const res = await predict(r, client, apiKey);
        expect(res.status).toBe(429);
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(50);
      }
    }
    // Another client is not locked out.
    const other = newClient();
    for (const r of replicas) expect((await predict(r, other, apiKey)).status).toBe(200);
  });

  it('the sign-in throttle counts failed sign-ins across the replicas, by address and by username', async () => {
    const username = `reader${address}`;
    expect((await manageOn(replicas[0]!, mk, 'POST', '/users', { username, password })).status).toBe(201);
    const client = newClient();
    for (let i = 0; i < LIMIT; i++) {
      const res = await signIn(replicas[i % 3]!, client, username, `wrong ${i}`);
      expect(res.status).toBe(401);
    }
    // The right password is refused on every replica now: the address is locked...
    for (const r of replicas) {
      const res = await signIn(r, client, username, password);
      expect(res.status).toBe(429);
      expect(res.json.error.code).toBe('THROTTLED');
    }
    // ...and so is the username, from a client that never failed.
    const fresh = newClient();
    for (const r of replicas) expect((await signIn(r, fresh, username, password)).status).toBe(429);
  });

  it('the management listener locks an address out after N failures spread over the replicas', async () => {
    const client = newClient();
    const whoami = (r: Replica, credential: string) =>
      call(`${r.proc.urls.management}/api/v1/whoami`, {
        headers: { authorization: `Bearer ${credential}`, 'x-forwarded-for': client },
      });
    for (let i = 0; i < LIMIT; i++) {
      expect((await whoami(replicas[i % 3]!, generateCredential('api_token'))).status).toBe(401);
    }
    for (const r of replicas) expect((await whoami(r, mk)).status).toBe(429);
  });

  it('Redis gone: every replica keeps serving, counts locally, and says so (metric, readiness, one log line)', async () => {
    await redis.kill();
    for (const r of replicas) await until(async () => (await redisUp(r)) === 0, 'the replica sees Redis down');
    for (const r of replicas) {
      // Not a reason to take the replica out of the balancer.
      expect(await ready(r)).toEqual({ status: 200, body: { status: 'ready', redis: 'down' } });
    }
    // Failures on A alone lock the client on A (its own count)...
    const client = newClient();
    const a = replicas[0]!;
    await failSpread(client, [a]);
    expect((await predict(a, client, apiKey)).status).toBe(429);
    // ...while B and C, which did not count them, still admit it.
    for (const r of replicas.slice(1)) expect((await predict(r, client, apiKey)).status).toBe(200);
    // Still reconnecting every second, but said once.
    for (const r of replicas) {
      expect(r.proc.lines.filter((l) => l.includes('Redis unreachable')).length).toBe(1);
    }
  });

  it('Redis back: the replicas share again (one log line each), and a spread lock holds everywhere', async () => {
    await redis.start();
    for (const r of replicas) await until(async () => (await redisUp(r)) === 1, 'the replica sees Redis back');
    for (const r of replicas) {
      expect(await ready(r)).toEqual({ status: 200, body: { status: 'ready', redis: 'up' } });
      expect(r.proc.lines.filter((l) => l.includes('Redis reachable again')).length).toBe(1);
    }
    const client = newClient();
    for (const r of replicas) expect((await predict(r, client, apiKey)).status).toBe(200);
    await failSpread(client);
    for (const r of replicas) expect((await predict(r, client, apiKey)).status).toBe(429);
  });
});

describe('a node whose Redis is unreachable from the start', () => {
  let proc: NodeProcess;

  beforeAll(async () => {
    const redis = await ownRedis();
    await redis.kill(); // its port, now closed
    proc = await startNodeProcess(['--redis-url', redis.url, '--redis-key-prefix', `closed_${redis.port}:`]);
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
  });

  it('starts and serves, logs it once, reports it in its metrics and readiness detail', async () => {
    const res = await call(`${proc.urls.management}/_health/ready`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ready', redis: 'down' });
    const metrics = (await call(`${proc.urls.metrics}/metrics`)).text;
    expect(metrics).toMatch(/^modelgate_redis_up 0$/m);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(proc.lines.filter((l) => l.includes('Redis unreachable')).length).toBe(1);
    // The URL is logged as host:port only.
    expect(proc.output()).not.toMatch(/redis:\/\//);
  });
});
