import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryRateCounter, windowAt } from '../src/dataplane/rate-counter.js';
import { RedisRateCounter } from '../src/dataplane/redis-rate-counter.js';
import { createLogger } from '../src/log/logger.js';
import { RedisLink } from '../src/store/redis-link.js';
import { dropPrefix, keysUnder, ownRedis, REDIS_URL, testPrefix, until } from './helpers/redis.js';

/**
 * Rate limits on a real Redis (issue 20, X3), as docs/security.md states them: one key per limit
 * and clock window under the node's prefix, cleared after its window; two replicas share the
 * count; a Redis that is gone or hung never holds a request longer than `redis_timeout_ms`, the
 * replica then counts in memory.
 */
const prefix = testPrefix();
const silent = createLogger({ level: 'silent', pretty: false });
const opened: RedisLink[] = [];
const link = async (url = REDIS_URL, timeoutMs = 300) => {
  const made = new RedisLink({ url, prefix, timeoutMs, log: silent });
  opened.push(made);
  await made.whenUp(2000);
  return made;
};
afterAll(async () => {
  for (const l of opened) await l.close();
  await dropPrefix(prefix);
});

describe('rate limits counted in Redis', () => {
  it('one key per limit and window under the prefix, expiring after its window; two replicas share it', async () => {
    const [a, b] = [
      new RedisRateCounter(await link(), new MemoryRateCounter()),
      new RedisRateCounter(await link(), new MemoryRateCounter()),
    ];
    const limit = { requests: 3, per: 'minute' } as const;
    const key = 'dep_1|api_key:key_1';
    const taken = [
      await a.take(key, limit),
      await b.take(key, limit),
      await a.take(key, limit),
      await b.take(key, limit),
    ];
    expect(taken.map((c) => c.allowed)).toEqual([true, true, true, false]);
    expect(taken.map((c) => c.remaining)).toEqual([2, 1, 0, 0]);
    const names = await keysUnder(prefix);
    const { index } = windowAt(Date.now(), limit);
    // A window edge between the takes and this line would name the next one; both are the format.
    expect(names.some((n) => n === `${prefix}rate:${key}:${index}` || n === `${prefix}rate:${key}:${index - 1}`)).toBe(
      true,
    );
    const client = new Redis(REDIS_URL);
    try {
      for (const name of names) {
        const ttl = await client.pttl(name);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(61_000);
      }
    } finally {
      client.disconnect();
    }
  });

  it('a hung Redis: a take ends within the command bound, counted in memory; a Redis gone: at once', async () => {
    const redis = await ownRedis();
    try {
      const counter = new RedisRateCounter(await link(redis.url, 300), new MemoryRateCounter());
      const limit = { requests: 2, per: 'hour' } as const;
      redis.freeze();
      const started = performance.now();
      const seen = [await counter.take('k', limit), await counter.take('k', limit), await counter.take('k', limit)];
      expect(seen.map((c) => c.allowed)).toEqual([true, true, false]);
      // Each take waited at most the bound (300 ms), not for Redis.
      expect(performance.now() - started).toBeLessThan(3 * 300 + 1000);
      redis.thaw();
      await redis.kill();
      const down = opened.at(-1) as RedisLink;
      await until(() => !down.up, 'the link notices Redis is gone');
      expect((await counter.take('k', limit)).allowed).toBe(false);
    } finally {
      await redis.kill();
    }
  });
});
