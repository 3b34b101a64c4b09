import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import type { Config } from '../src/config/schema.js';
import { SharedFailureThrottle } from '../src/http/shared-throttle.js';
import { createLogger } from '../src/log/logger.js';
import { openSharedCounters, type SharedCounters } from '../src/node/shared-counters.js';
import { RedisLink } from '../src/store/redis-link.js';
import { dropPrefix, keysUnder, ownRedis, REDIS_URL, testPrefix, until } from './helpers/redis.js';

/**
 * Shared counters on a real Redis (issue 20), in one process: each `RedisLink` plays one
 * replica (its own two connections, its own id), all on one key prefix of this run's own.
 * The process tests (cluster-redis.test.ts) hold real replicas to the same rules.
 */

const prefix = testPrefix();
const silent = createLogger({ level: 'silent', pretty: false });
const opened: { close(): Promise<void> }[] = [];

const link = async (url = REDIS_URL, timeoutMs = 1000): Promise<RedisLink> => {
  const made = new RedisLink({ url, prefix, timeoutMs, log: silent });
  opened.push(made);
  await made.whenUp(2000);
  return made;
};

const throttleOn = (redis: RedisLink, limit: number, extra: { opaqueKeys?: boolean } = {}) =>
  new SharedFailureThrottle({ name: 'data', limit, windowMs: 60_000, link: redis, ...extra });

/** Unique throttle keys per test (every test shares the prefix). */
let n = 0;
const freshKey = () => `198.51.100.${++n}|dep_test`;

afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
});
afterAll(() => dropPrefix(prefix));

describe('SharedFailureThrottle across replicas', () => {
  it('failures spread over three replicas lock the key on all three before the locking failure returns', async () => {
    const replicas = await Promise.all([link(), link(), link()]);
    const [a, b, c] = replicas.map((r) => throttleOn(r, 4));
    const key = freshKey();
    for (const t of [a, b, c]) {
      expect(await t!.enter(key)).toBe(0);
      await t!.fail(key);
    }
    // Three failures, one per replica: nobody is locked yet.
    expect([a, b, c].map((x) => x!.lockedFor(key))).toEqual([0, 0, 0]);
    expect(await b!.enter(key)).toBe(0);
    await b!.fail(key); // the 4th failure, on B
    // Mirrored on every replica already: the cache-hit path refuses without asking Redis.
    for (const t of [a, b, c]) expect(t!.lockedFor(key)).toBeGreaterThan(55);
    for (const t of [a, b, c]) expect(await t!.enter(key)).toBeGreaterThan(55);
    // Another key is untouched.
    expect(a!.lockedFor(freshKey())).toBe(0);
  });

  it('attempts in flight count on every replica: parallel guesses cannot pass the limit together', async () => {
    const [ra, rb] = await Promise.all([link(), link()]);
    const a = throttleOn(ra, 3);
    const b = throttleOn(rb, 3);
    const key = freshKey();
    expect(await a.enter(key)).toBe(0);
    expect(await b.enter(key)).toBe(0);
    expect(await a.enter(key)).toBe(0);
    // Three reserved across two replicas: the fourth waits (1 s), on either.
    expect(await b.enter(key)).toBe(1);
    expect(await a.enter(key)).toBe(1);
    // A success ends its reservation without clearing anything: one more may try.
    b.release(key);
    await until(async () => (await b.enter(key)) === 0, 'the released reservation is free again', 5000);
    expect(a.lockedFor(key)).toBe(0);
  });

  it('a replica that starts after a lock loads it', async () => {
    const a = throttleOn(await link(), 1);
    const key = freshKey();
    expect(await a.enter(key)).toBe(0);
    await a.fail(key);
    const late = throttleOn(await link(), 1);
    await until(() => late.lockedFor(key) > 0, 'the late replica mirrors the lock');
  });

  it('a replica that missed the announcement still refuses on a cache miss: the lock is in Redis too', async () => {
    const a = throttleOn(await link(), 2);
    const key = freshKey();
    for (let i = 0; i < 2; i++) {
      expect(await a.enter(key)).toBe(0);
      await a.fail(key);
    }
    // A replica that neither heard the announcement nor finds it among the marks to load.
    const raw = new Redis(REDIS_URL);
    await raw.del(`${prefix}marks:throttle:data`);
    raw.disconnect();
    const deaf = throttleOn(await link(), 2);
    expect(deaf.lockedFor(key)).toBe(0);
    // Its reservation is refused by the blocked counters, and the lock is mirrored from them.
    expect(await deaf.enter(key)).toBeGreaterThan(55);
    expect(deaf.lockedFor(key)).toBeGreaterThan(55);
  });

  it('opaque keys (a sign-in username) reach Redis only hashed', async () => {
    const a = throttleOn(await link(), 1, { opaqueKeys: true });
    const typed = `u:correct-horse-${n++}`;
    expect(await a.enter(typed)).toBe(0);
    await a.fail(typed);
    expect(a.lockedFor(typed)).toBeGreaterThan(0);
    const keys = await keysUnder(prefix);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join('\n')).not.toContain('correct-horse');
  });
});

describe('the password-check failure memory is shared; the capacity is not', () => {
  const counters = async (): Promise<SharedCounters> => {
    const result = resolveConfig({
      cli: {
        redis_url: REDIS_URL,
        redis_key_prefix: prefix,
        password_check_concurrency: '4',
        failure_window_s: '60',
      },
    });
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const made = await openSharedCounters(result.config as Config, silent);
    opened.push(made.redis!);
    return made;
  };

  it('a client whose check failed on A is suspect on B: it may not take the clean reserve there', async () => {
    const [a, b] = await Promise.all([counters(), counters()]);
    const client = `203.0.113.${++n}`;
    expect(await a.passwordChecks.run(client, async () => false)).toEqual({ ran: true, value: false });
    // B: three slots of four busy (never released in this test); the fourth is the clean reserve.
    for (const other of ['x', 'y', 'z']) expect(b.passwordChecks.acquire(`${other}-${n}`)).toBe('run');
    await until(() => {
      // Clean (B has not heard yet): it takes the reserve; given back at once.
      const decision = b.passwordChecks.acquire(client);
      if (decision === 'run') b.passwordChecks.release(client);
      return decision === 'node_cap';
    }, 'B knows the client failed on A');
    // A clean client still gets the reserve on B: the cap itself is B's alone.
    expect(b.passwordChecks.acquire(`clean-${n}`)).toBe('run');
    expect(a.passwordChecks.running).toBe(0);
  });
});

describe('when Redis is unreachable or hung', () => {
  it('a Redis that is not there: the throttle counts locally at once, and locks locally', async () => {
    const redis = await ownRedis();
    await redis.kill();
    const down = await link(redis.url, 300);
    expect(down.up).toBe(false);
    const t = throttleOn(down, 2);
    const key = freshKey();
    const started = performance.now();
    for (let i = 0; i < 2; i++) {
      expect(await t.enter(key)).toBe(0);
      await t.fail(key);
    }
    expect(t.lockedFor(key)).toBeGreaterThan(55);
    // No command waited for a connection (they fail fast while down).
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a hung Redis: calls end within the command bound and fall back; the link goes down, then up again', async () => {
    const redis = await ownRedis();
    try {
      const [ra, rb] = await Promise.all([link(redis.url, 300), link(redis.url, 300)]);
      const changes: boolean[] = [];
      ra.onChange((up) => changes.push(up));
      const a = throttleOn(ra, 2);
      const b = throttleOn(rb, 2);
      redis.freeze();
      const key = freshKey();
      const started = performance.now();
      expect(await a.enter(key)).toBe(0);
      await a.fail(key);
      expect(await a.enter(key)).toBe(0);
      await a.fail(key);
      // Locked here by the local count; each call waited at most the bound.
      expect(a.lockedFor(key)).toBeGreaterThan(55);
      expect(performance.now() - started).toBeLessThan(4 * 300 + 1000);
      await until(() => !ra.up, 'the heartbeat notices the hung server');
      redis.thaw();
      await until(() => ra.up && rb.up, 'both links are up again');
      expect(changes).toEqual([false, true]);
      // Shared again: a lock made on A now reaches B.
      const next = freshKey();
      for (let i = 0; i < 2; i++) {
        expect(await a.enter(next)).toBe(0);
        await a.fail(next);
      }
      expect(b.lockedFor(next)).toBeGreaterThan(55);
    } finally {
      await redis.kill();
    }
  });
});
