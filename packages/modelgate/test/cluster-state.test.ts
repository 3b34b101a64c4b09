import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { MemoryRateCounter } from '../src/dataplane/rate-counter.js';
import { ExpensiveCheckLimiter } from '../src/http/expensive-check-limiter.js';
import { SharedFailureThrottle } from '../src/http/shared-throttle.js';
import { Channel, type Endpoint } from '../src/node/cluster/channel.js';
import { nodeWideState } from '../src/node/cluster/primary.js';
import { RemoteThrottle } from '../src/node/cluster/remote-throttle.js';

/**
 * Two ends of an IPC link in memory: delivery is asynchronous and every message goes through
 * JSON, as node:cluster's channel does.
 */
function link(): [Endpoint, Endpoint] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const deliver = (to: EventEmitter) => (message: unknown) => {
    const copy = JSON.parse(JSON.stringify(message));
    setImmediate(() => to.emit('message', copy));
  };
  return [
    { send: deliver(b), on: (event, listener) => a.on(event, listener) },
    { send: deliver(a), on: (event, listener) => b.on(event, listener) },
  ];
}

/** A primary holding the node-wide state and `count` workers' views of it. */
function node(count: number, options: { limit: number; slots: number; share?: number; reserve?: number }) {
  const throttle = new SharedFailureThrottle({ name: 'data', limit: options.limit, windowMs: 60_000 });
  const slots = new ExpensiveCheckLimiter(options.slots, { share: options.share, reserve: options.reserve });
  const toWorkers: Channel[] = [];
  const broadcast = async (method: string, payload: unknown) => {
    await Promise.all(toWorkers.map((c) => c.call(method, payload)));
  };
  const workers = Array.from({ length: count }, () => {
    const [primaryEnd, workerEnd] = link();
    toWorkers.push(
      new Channel(primaryEnd, nodeWideState({ throttle, rates: new MemoryRateCounter(), slots, broadcast })),
    );
    const view: { throttle?: RemoteThrottle } = {};
    const toPrimary = new Channel(workerEnd, {
      lock: (payload) => {
        const { key, until } = payload as { key: string; until: number };
        view.throttle?.mirror(key, until);
      },
    });
    const remote = new RemoteThrottle(toPrimary);
    view.throttle = remote;
    return { throttle: remote, channel: toPrimary };
  });
  return workers;
}

describe('node-wide state shared by the workers', () => {
  it('the password-check cap counts checks in every worker together', async () => {
    const [a, b] = node(2, { limit: 10, slots: 3, share: 3 });
    expect(await a!.channel.call('slot', 'x')).toBe('run');
    expect(await b!.channel.call('slot', 'y')).toBe('run');
    expect(await a!.channel.call('slot', 'z')).toBe('run');
    // Three in flight across two workers: the cap is reached for both; clean newcomers wait in
    // one line, oldest first, whichever worker they came through.
    const w = b!.channel.call('slot', 'w');
    const v = a!.channel.call('slot', 'v');
    a!.channel.notify('unslot', 'z');
    expect(await w).toBe('run');
    b!.channel.notify('unslot', { client: 'x', failed: false });
    expect(await v).toBe('run');
  });

  it('a check that failed in one worker makes its client suspect in every worker', async () => {
    const [a, b] = node(2, { limit: 10, slots: 2, share: 2, reserve: 1 });
    expect(await a!.channel.call('slot', 'sprayer')).toBe('run');
    a!.channel.notify('unslot', { client: 'sprayer', failed: true });
    expect(await a!.channel.call('slot', 'someone')).toBe('run');
    // The last slot is the clean reserve: the sprayer is refused it through the other worker
    // too (not charged: it holds nothing), while a clean client takes it.
    expect(await b!.channel.call('slot', 'sprayer')).toBe('node_cap');
    expect(await b!.channel.call('slot', 'innocent')).toBe('run');
  });

  it("a client's share of the password-check cap is counted across workers", async () => {
    const [a, b] = node(2, { limit: 10, slots: 8, share: 2 });
    expect(await a!.channel.call('slot', 'flooder')).toBe('run');
    expect(await b!.channel.call('slot', 'flooder')).toBe('run');
    // Its share is used up whichever worker it reaches next: refused, and charged to it.
    expect(await a!.channel.call('slot', 'flooder')).toBe('own_share');
    expect(await b!.channel.call('slot', 'flooder')).toBe('own_share');
    // Another client still has room.
    expect(await b!.channel.call('slot', 'someone')).toBe('run');
    b!.channel.notify('unslot', 'flooder');
    expect(await a!.channel.call('slot', 'flooder')).toBe('run');
  });

  it('failures served by different workers add up, and the lock is in every worker before the last failure is answered', async () => {
    const workers = node(3, { limit: 3, slots: 16 });
    const key = '198.51.100.7|deployment-1';
    for (const worker of workers) {
      expect(await worker.throttle.enter(key)).toBe(0);
      // Nobody is locked yet: the cache-hit path lets the caller through.
      for (const w of workers) expect(w.throttle.lockedFor(key)).toBe(0);
      await worker.throttle.fail(key);
    }
    for (const worker of workers) {
      expect(worker.throttle.lockedFor(key)).toBeGreaterThan(0);
      expect(await worker.throttle.enter(key)).toBeGreaterThan(0);
      expect(worker.throttle.lockedFor('198.51.100.8|deployment-1')).toBe(0);
    }
  });

  it('parallel guesses through several workers cannot exceed the limit: attempts are reserved in the primary', async () => {
    const workers = node(2, { limit: 3, slots: 16 });
    const key = '203.0.113.9|deployment-2';
    const waits = await Promise.all(Array.from({ length: 8 }, (_, i) => workers[i % 2]!.throttle.enter(key)));
    expect(waits.filter((w) => w === 0)).toHaveLength(3);
  });
});
