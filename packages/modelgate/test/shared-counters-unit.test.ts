import { describe, expect, it } from 'vitest';
import { lockLeftMs, windowSeconds } from '../src/http/shared-throttle.js';
import { ExpiryMap } from '../src/kernel/expiry-map.js';
import { redisDetail } from '../src/node/shared-counters.js';
import { describeRedisUrl, parseEnvelope } from '../src/store/redis-link.js';
import { parseMark } from '../src/store/shared-marks.js';

describe('the shared throttle decisions', () => {
  it('a refused reservation is a lock only while the failures counter is blocked past the limit', () => {
    expect(lockLeftMs(null, 10)).toBe(0);
    // At the limit: the lock is being made, or attempts in flight fill it: wait 1 s.
    expect(lockLeftMs({ consumedPoints: 10, msBeforeNext: 30_000 }, 10)).toBe(0);
    expect(lockLeftMs({ consumedPoints: 11, msBeforeNext: 30_000 }, 10)).toBe(30_000);
    expect(lockLeftMs({ consumedPoints: 11, msBeforeNext: 0 }, 10)).toBe(0);
  });

  it('a window is counted in Redis in whole seconds, rounded up, at least one', () => {
    expect(windowSeconds(60_000)).toBe(60);
    expect(windowSeconds(1_500)).toBe(2);
    expect(windowSeconds(200)).toBe(1);
  });
});

describe('what replicas send each other', () => {
  it('an envelope is {o, i, m}; anything else is ignored', () => {
    expect(parseEnvelope('{"o":"host-1-ab","i":3,"m":"x"}')).toEqual({ o: 'host-1-ab', i: 3, m: 'x' });
    for (const raw of ['', 'null', '[]', '{"o":1,"i":3,"m":"x"}', '{"o":"a","i":1.5,"m":"x"}', '{"o":"a","i":1}']) {
      expect(parseEnvelope(raw)).toBeUndefined();
    }
  });

  it('a mark is ["key", until]; anything else is ignored', () => {
    expect(parseMark('["203.0.113.7|dep_1",1700000000000]')).toEqual(['203.0.113.7|dep_1', 1700000000000]);
    for (const raw of ['{', '["a"]', '["a","1"]', '[1,2]', '["a",null]', '["a",1,2]']) {
      expect(parseMark(raw)).toBeUndefined();
    }
  });

  it('a Redis URL is logged as host, port and database: never its password', () => {
    expect(describeRedisUrl('redis://:s3cret@cache.internal:6380/2')).toBe('cache.internal:6380/2');
    expect(describeRedisUrl('rediss://user:s3cret@cache.internal')).toBe('cache.internal:6379');
    expect(describeRedisUrl('not a url')).not.toContain('not a url');
  });

  it('readiness detail names Redis only when it is configured', () => {
    expect(redisDetail(undefined)).toBeUndefined();
    expect(redisDetail(null)).toBeUndefined();
    expect(redisDetail(true)).toEqual({ redis: 'up' });
    expect(redisDetail(false)).toEqual({ redis: 'down' });
  });
});

describe('ExpiryMap', () => {
  it('remembers a key until its time, the later time winning, and forgets it after', () => {
    let now = 1_000;
    const map = new ExpiryMap(10, () => now);
    map.set('k', 61_000);
    map.set('k', 31_000); // earlier: ignored
    expect(map.secondsLeft('k')).toBe(60);
    now = 60_500;
    expect(map.secondsLeft('k')).toBe(1);
    now = 61_000;
    expect(map.secondsLeft('k')).toBe(0);
    expect(map.size).toBe(0);
  });

  it('is bounded: the entry set longest ago goes first', () => {
    const map = new ExpiryMap(2, () => 0);
    map.set('a', 10);
    map.set('b', 10);
    map.set('a', 20); // renewed: now the newest
    map.set('c', 10);
    expect([map.until('a'), map.until('b'), map.until('c')]).toEqual([20, 0, 10]);
  });
});
