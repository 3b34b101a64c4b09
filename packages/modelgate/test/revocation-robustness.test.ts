import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Route, RouteTable } from '../src/dataplane/route-table.js';
import { clientKey, FailureThrottle } from '../src/http/failure-throttle.js';
import { RevocableCache } from '../src/kernel/cache.js';
import type { ChangeEvent } from '../src/kernel/event-bus.js';
import { createLocalBus } from '../src/kernel/event-bus.js';
import { followChangeLog, recordChange } from '../src/store/change-log.js';
import { openStore, type Store, safeUrl } from '../src/store/database.js';
import { createScratchDatabase } from './helpers/postgres.js';

describe('change log on PostgreSQL: a change that commits out of id order is still delivered', () => {
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let writerA: Store;
  let writerB: Store;
  let follower: Store;
  beforeAll(async () => {
    db = await createScratchDatabase();
    writerA = await openStore({ dataDir: '', databaseUrl: db.url });
    writerB = await openStore({ dataDir: '', databaseUrl: db.url });
    follower = await openStore({ dataDir: '', databaseUrl: db.url });
  });
  afterAll(async () => {
    await Promise.all([writerA?.close(), writerB?.close(), follower?.close()]);
    await db?.drop();
  });

  it('a lower id committed after a higher one reaches the follower', async () => {
    const bus = createLocalBus();
    const seen: ChangeEvent[] = [];
    bus.subscribe((e) => {
      seen.push(e);
    });
    const feed = await followChangeLog(follower, bus, { intervalMs: 50 });
    let releaseA!: () => void;
    const held = new Promise<void>((r) => {
      releaseA = r;
    });
    // A takes the lower id and holds its transaction open...
    const a = writerA.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('change_log')
        .values({ topic: 'api_key.deleted', subject: 'late', created_at: new Date().toISOString() })
        .execute();
      await held;
    });
    await new Promise((r) => setTimeout(r, 100));
    // ...while B commits a higher id, which the follower reads first.
    await recordChange(writerB, 'deployment.changed', 'early');
    await waitFor(() => seen.some((e) => e.subject === 'early'));
    releaseA();
    await a;
    await waitFor(() => seen.some((e) => e.subject === 'late'));
    feed.stop();
    expect(seen.map((e) => e.subject)).toEqual(['early', 'late']);
  });
});

describe('route table: a failed reload fails closed, is retried, and recovers', () => {
  it('marks the route stale, then serves the reloaded route', async () => {
    const snapshot = { id: 'dep_1', name: 'd', revision: 1 } as Route['snapshot'];
    let fail = false;
    let enabled = true;
    const table = new RouteTable(async () => {
      if (fail) throw new Error('store down');
      return { snapshot, enabled };
    });
    await table.loadAll(['d']);
    expect(table.get('d')?.stale).toBeUndefined();
    fail = true;
    enabled = false;
    await table.reload('d');
    expect(table.get('d')).toMatchObject({ stale: true, enabled: true });
    fail = false;
    await waitFor(() => table.get('d')?.stale === undefined);
    expect(table.get('d')).toEqual({ snapshot, enabled: false });
    table.close();
  });

  it('a failed periodic reconcile leaves routes as they are (no outage from a store blip)', async () => {
    const snapshot = { id: 'dep_1', name: 'd', revision: 1 } as Route['snapshot'];
    let fail = false;
    const table = new RouteTable(async () => {
      if (fail) throw new Error('store down');
      return { snapshot, enabled: true };
    });
    await table.loadAll(['d']);
    fail = true;
    await table.reload('d', 0, false);
    expect(table.get('d')?.stale).toBeUndefined();
    table.close();
  });
});

describe('failure throttle (frozen clock)', () => {
  it('reserves attempts before verification, so parallel guesses cannot pass the limit', () => {
    let now = 0;
    const t = new FailureThrottle({ limit: 3, windowMs: 10_000, now: () => now });
    expect([t.enter('k'), t.enter('k'), t.enter('k')]).toEqual([0, 0, 0]);
    expect(t.enter('k')).toBeGreaterThan(0); // three in flight
    t.fail('k');
    t.fail('k');
    t.fail('k');
    expect(t.enter('k')).toBe(10); // locked for the window
    now += 10_000;
    expect(t.enter('k')).toBe(0);
    t.release('k');
    expect(t.enter('other')).toBe(0);
  });

  it('releasing (no credential, 403) does not count as a failure', () => {
    const t = new FailureThrottle({ limit: 1, windowMs: 10_000, now: () => 0 });
    for (let i = 0; i < 5; i++) {
      expect(t.enter('k')).toBe(0);
      t.release('k');
    }
  });

  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('client key of %s is %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });
});

describe('database URLs in logs', () => {
  it('never carry a password, in the userinfo or the query string', () => {
    expect(safeUrl('postgres://u:pw@db:5432/app?password=x&sslkey=y')).toBe('postgres://u@db:5432/app');
    expect(safeUrl('postgres://db/app')).toBe('postgres://db/app');
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('revocable cache of known credentials', () => {
  it('evicts by id on its topic, and does not cache a lookup that raced an eviction', async () => {
    const bus = createLocalBus();
    const cache = new RevocableCache<{ id: string }>(10, bus, 'api_key.deleted');
    let loads = 0;
    const load = async () => {
      loads++;
      return { id: 'key_1' };
    };
    expect(await cache.get('h', load)).toEqual({ id: 'key_1' });
    expect(await cache.get('h', load)).toEqual({ id: 'key_1' });
    expect(loads).toBe(1);
    await bus.publish({ topic: 'deployment.changed', subject: 'key_1' }); // other topic: kept
    await cache.get('h', load);
    expect(loads).toBe(1);
    await bus.publish({ topic: 'api_key.deleted', subject: 'key_1' });
    await cache.get('h', load);
    expect(loads).toBe(2);

    // A deletion lands while the store is being read: the stale answer must not be cached.
    await bus.publish({ topic: 'api_key.deleted', subject: 'key_1' });
    let release!: () => void;
    const slow = cache.get('h', async () => {
      loads++;
      await new Promise<void>((r) => {
        release = r;
      });
      return { id: 'key_1' };
    });
    await bus.publish({ topic: 'api_key.deleted', subject: 'key_1' });
    release();
    await slow;
    await cache.get('h', load);
    expect(loads).toBe(4);
  });
});
