import { describe, expect, it } from 'vitest';
import { TRAFFIC_MINUTES, TrafficRing } from '../src/kernel/traffic-ring.js';

const T0 = Date.parse('2026-01-01T10:00:00Z');
const MIN = 60_000;

describe('the per-deployment traffic ring (the console chart)', () => {
  it('counts requests and refusals by reason per minute, oldest first, the last hour exactly', () => {
    const ring = new TrafficRing();
    ring.record('a', undefined, 5, T0 + 1000);
    ring.record('a', 'missing', 0.2, T0 + 2000);
    ring.record('a', 'missing', 0.2, T0 + MIN + 5);
    ring.record('a', 'unavailable', 0.2, T0 + MIN + 6);
    ring.record('b', undefined, 1, T0);
    const hour = ring.lastHour('a', T0 + MIN + 10);
    expect(hour).toHaveLength(TRAFFIC_MINUTES);
    expect(hour.at(-1)).toMatchObject({
      start: '2026-01-01T10:01:00.000Z',
      requests: 2,
      refused: { missing: 1, unavailable: 1 },
    });
    expect(hour.at(-2)).toMatchObject({ start: '2026-01-01T10:00:00.000Z', requests: 2, refused: { missing: 1 } });
    expect(hour.at(-3)).toEqual({
      start: '2026-01-01T09:59:00.000Z',
      requests: 0,
      refused: {},
      p50_ms: null,
      p99_ms: null,
    });
    expect(ring.lastHour('b', T0 + MIN).at(-2)?.requests).toBe(1);
    expect(ring.lastHour('nobody', T0).every((m) => m.requests === 0)).toBe(true);
  });

  it('p50 and p99 within a bucket (~19 %) of the true values', () => {
    const ring = new TrafficRing();
    // 1..1000 ms: p50 ≈ 500 ms, p99 ≈ 990 ms.
    for (let ms = 1; ms <= 1000; ms++) ring.record('a', undefined, ms, T0);
    const [m] = ring.lastHour('a', T0).slice(-1);
    expect(m!.p50_ms!).toBeGreaterThanOrEqual(500);
    expect(m!.p50_ms!).toBeLessThan(500 * 1.2);
    expect(m!.p99_ms!).toBeGreaterThanOrEqual(990);
    expect(m!.p99_ms!).toBeLessThan(990 * 1.2);
    expect(m!.p50_ms!).toBeLessThan(m!.p99_ms!);
  });

  it('a minute an hour old is reused, not added to', () => {
    const ring = new TrafficRing();
    ring.record('a', 'forbidden', 1, T0);
    ring.record('a', undefined, 1, T0 + TRAFFIC_MINUTES * MIN); // same slot, an hour later
    const hour = ring.lastHour('a', T0 + TRAFFIC_MINUTES * MIN);
    expect(hour.reduce((n, m) => n + m.requests, 0)).toBe(1);
    expect(hour.at(-1)?.refused).toEqual({});
  });

  it('extreme durations land in the end buckets', () => {
    const ring = new TrafficRing();
    ring.record('a', undefined, 0, T0);
    ring.record('a', undefined, Number.NaN, T0);
    ring.record('a', undefined, 10 * 60_000, T0);
    const m = ring.lastHour('a', T0).at(-1)!;
    expect(m.requests).toBe(3);
    expect(m.p50_ms).toBe(0.1);
    expect(m.p99_ms).toBeGreaterThan(60_000);
  });
});
