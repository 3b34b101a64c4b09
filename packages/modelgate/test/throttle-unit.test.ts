import { describe, expect, it, vi } from 'vitest';
import {
  decideCheck,
  defaultReserve,
  defaultShare,
  ExpensiveCheckLimiter,
  laneOf,
} from '../src/http/expensive-check-limiter.js';
import { FailureThrottle } from '../src/http/failure-throttle.js';
import { attemptOutcome } from '../src/http/throttle.js';
import { type Denial, deny, denyForNow } from '../src/kernel/denial.js';
import type { Principal } from '../src/kernel/principal.js';

const OK: Principal = { kind: 'api_key', id: 'k1' };
const BAD: Denial = deny('unknown');

/** A throttle on a clock the test moves by hand. */
function frozen(limit: number, windowMs = 60_000) {
  const clock = { now: 0 };
  const throttle = new FailureThrottle({ limit, windowMs, now: () => clock.now });
  const failOnce = (key = 'k') => {
    expect(throttle.enter(key)).toBe(0);
    throttle.fail(key);
  };
  const succeedOnce = (key = 'k') => {
    expect(throttle.enter(key)).toBe(0);
    throttle.release(key);
  };
  return { clock, throttle, failOnce, succeedOnce };
}

describe('FailureThrottle: a success never clears failures', () => {
  it('guesses interleaved with successes still reach the limit and lock the key', () => {
    const { throttle, failOnce, succeedOnce } = frozen(3);
    for (let i = 0; i < 3; i++) {
      succeedOnce();
      failOnce();
    }
    expect(throttle.enter('k')).toBe(60); // locked for the whole window, valid credential or not
  });

  it('a success between the last guess and the lock changes nothing', () => {
    const { throttle, failOnce, succeedOnce } = frozen(2);
    failOnce();
    for (let i = 0; i < 5; i++) succeedOnce();
    failOnce();
    expect(throttle.enter('k')).toBeGreaterThan(0);
  });

  it('the window opens at the first failure, not at an earlier success', () => {
    const { clock, throttle, failOnce, succeedOnce } = frozen(2, 60_000);
    succeedOnce(); // t = 0
    clock.now = 50_000;
    failOnce();
    clock.now = 65_000; // past 60 s after the success, inside the failure's window
    failOnce();
    expect(throttle.enter('k')).toBe(60);
  });

  it('failures stop counting when their window ends', () => {
    const { clock, throttle, failOnce } = frozen(3, 10_000);
    failOnce();
    failOnce();
    clock.now = 10_000;
    failOnce();
    failOnce();
    expect(throttle.enter('k')).toBe(0);
  });

  it('the lock lasts one window from the limit-th failure, Retry-After counts down, then a clean slate', () => {
    const { clock, throttle, failOnce } = frozen(2, 10_000);
    failOnce();
    clock.now = 4_000;
    failOnce();
    expect(throttle.enter('k')).toBe(10);
    clock.now = 12_500;
    expect(throttle.enter('k')).toBe(2);
    clock.now = 14_000;
    expect(throttle.enter('k')).toBe(0);
    throttle.fail('k');
    expect(throttle.enter('k')).toBe(0); // one failure of a fresh window: not locked
  });

  it('keys are independent', () => {
    const { throttle, failOnce } = frozen(1);
    failOnce('a');
    expect(throttle.enter('a')).toBeGreaterThan(0);
    expect(throttle.enter('b')).toBe(0);
  });
});

describe('FailureThrottle: reservations bound parallel attempts', () => {
  it('attempts in flight count toward the limit until they settle', () => {
    const { throttle } = frozen(3);
    expect([throttle.enter('k'), throttle.enter('k'), throttle.enter('k')]).toEqual([0, 0, 0]);
    expect(throttle.enter('k')).toBe(1);
    throttle.release('k');
    expect(throttle.enter('k')).toBe(0);
  });

  it('attempt(): 20 parallel guesses, at most `limit` are verified', async () => {
    const { throttle } = frozen(4);
    let verified = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        throttle.attempt('k', async () => {
          verified++;
          await new Promise((resolve) => setImmediate(resolve));
          return BAD;
        }),
      ),
    );
    expect(verified).toBe(4);
    expect(results.filter((r) => 'denied' in r && r.denied === 'throttled')).toHaveLength(16);
    expect(results.every((r) => 'denied' in r && (r.denied === 'unknown' || r.retryAfter !== undefined))).toBe(true);
  });

  it('attempt(): a throw releases the reservation and is not a failure', async () => {
    const { throttle } = frozen(1);
    for (let i = 0; i < 3; i++) {
      await expect(
        throttle.attempt('k', async () => {
          throw new Error('store down');
        }),
      ).rejects.toThrow('store down');
    }
    expect(await throttle.attempt('k', async () => OK)).toBe(OK);
  });

  it('attempt(): once locked, the credential is not even verified', async () => {
    const { throttle } = frozen(1);
    await throttle.attempt('k', async () => BAD);
    let verified = false;
    const result = await throttle.attempt('k', async () => {
      verified = true;
      return OK;
    });
    expect(verified).toBe(false);
    expect(result).toMatchObject({ denied: 'throttled', retryAfter: 60 });
  });
});

describe('attemptOutcome', () => {
  it.each([
    ['a success', OK, 'release'],
    ['no credential', deny('missing'), 'release'],
    ['a valid credential without access', deny('forbidden'), 'release'],
    ['a node-wide cap the client did not fill', denyForNow('busy', 1), 'release'],
    ['an unknown credential', deny('unknown'), 'fail'],
    ['a malformed credential', deny('malformed'), 'fail'],
    ['two Authorization headers', deny('ambiguous'), 'fail'],
    ['an expired credential', deny('expired'), 'fail'],
    ['a revoked credential', deny('revoked'), 'fail'],
    ['a refusal for the client’s own share of a cap', denyForNow('throttled', 1), 'fail'],
  ] as const)('%s: %s', (_name, result, outcome) => {
    expect(attemptOutcome(result)).toBe(outcome);
  });
});

describe('ExpensiveCheckLimiter: a fair share of the cap per client, clean clients first', () => {
  const limits = { capacity: 8, share: 2, reserve: 2, maxWaiting: 3 };
  it.each([
    [{ total: 0, client: 0, waiting: 0 }, 'clean', 'run'],
    [{ total: 7, client: 0, waiting: 0 }, 'clean', 'run'],
    [{ total: 8, client: 0, waiting: 0 }, 'clean', 'wait'],
    [{ total: 8, client: 0, waiting: 2 }, 'clean', 'wait'],
    // The line is full: a newcomer did not fill it, and is only told to come back.
    [{ total: 8, client: 0, waiting: 3 }, 'clean', 'node_cap'],
    [{ total: 3, client: 2, waiting: 0 }, 'clean', 'own_share'],
    [{ total: 5, client: 1, waiting: 0 }, 'suspect', 'run'],
    // The reserve is for clean clients: a suspect at 6 of 8 is refused, not charged.
    [{ total: 6, client: 0, waiting: 0 }, 'suspect', 'node_cap'],
    [{ total: 6, client: 1, waiting: 0 }, 'suspect', 'node_cap'],
    // A clean client waits: a suspect never jumps the line, even with a slot free.
    [{ total: 2, client: 0, waiting: 1 }, 'suspect', 'node_cap'],
    // At a full node a client already holding a check is part of the crowd (charged).
    [{ total: 8, client: 1, waiting: 0 }, 'suspect', 'own_share'],
    [{ total: 3, client: 2, waiting: 0 }, 'suspect', 'own_share'],
  ] as const)(
    'decideCheck(%o, %s) with capacity 8, share 2, reserve 2, 3 waiting at most is %s',
    (running, lane, decision) => {
      expect(decideCheck(running, lane, limits)).toBe(decision);
    },
  );

  it.each([
    [{ held: 0, failedRecently: false }, 'clean'],
    [{ held: 1, failedRecently: false }, 'suspect'],
    [{ held: 0, failedRecently: true }, 'suspect'],
  ] as const)('laneOf(%o) is %s', (client, lane) => {
    expect(laneOf(client)).toBe(lane);
  });

  it.each([
    [1, 1, 0],
    [3, 1, 0],
    [4, 1, 1],
    [16, 4, 4],
    [64, 16, 16],
  ])('the default share of %i is %i, its clean reserve %i', (capacity, share, reserve) => {
    expect(defaultShare(capacity)).toBe(share);
    expect(defaultReserve(capacity)).toBe(reserve);
  });

  /** Checks that finish when the test says, with the verdict it gives. */
  function gated() {
    const gates: ((ok: boolean) => void)[] = [];
    const check = () => new Promise<boolean>((resolve) => gates.push(resolve));
    return {
      check,
      finish: (ok = false) => gates.shift()?.(ok),
      get open() {
        return gates.length;
      },
    };
  }

  it('a flooding client is refused past its share (charged); a newcomer at a full node waits for a slot', async () => {
    const limiter = new ExpensiveCheckLimiter(4, { share: 2, reserve: 0 });
    const g = gated();
    const running = [limiter.run('a', g.check), limiter.run('a', g.check)];
    expect(await limiter.run('a', g.check)).toEqual({ ran: false, charge: true });
    // Another client still has room: the flooder holds only its share.
    running.push(limiter.run('b', g.check), limiter.run('b', g.check));
    await Promise.resolve();
    expect(limiter.running).toBe(4);
    const newcomer = limiter.run('c', async () => true);
    expect(limiter.waiting).toBe(1);
    g.finish(false);
    expect(await newcomer).toEqual({ ran: true, value: true });
    for (let i = 0; i < 3; i++) g.finish(false);
    expect(await Promise.all(running)).toEqual(Array(4).fill({ ran: true, value: false }));
    expect(limiter.running).toBe(0);
  });

  it('a clean client waits ahead of suspects; waiters are served oldest first', async () => {
    const limiter = new ExpensiveCheckLimiter(2, { share: 1, reserve: 0 });
    // 'bad' fails once: it is suspect from now on.
    expect(await limiter.run('bad', async () => false)).toEqual({ ran: true, value: false });
    const g = gated();
    const holders = [limiter.run('h1', g.check), limiter.run('h2', g.check)];
    const order: string[] = [];
    const ran = (name: string) => async () => {
      order.push(name);
      return true;
    };
    const first = limiter.run('clean-1', ran('clean-1'));
    const second = limiter.run('clean-2', ran('clean-2'));
    // The suspect does not wait: refused at once, not charged (it holds nothing).
    expect(await limiter.run('bad', async () => true)).toEqual({ ran: false, charge: false });
    g.finish(false);
    g.finish(false);
    await Promise.all([first, second, ...holders]);
    expect(order).toEqual(['clean-1', 'clean-2']);
    // The node is idle again: the suspect may run now.
    expect(await limiter.run('bad', async () => true)).toEqual({ ran: true, value: true });
  });

  it('a suspect never takes the clean reserve; a clean newcomer starts at once beside busy suspects', async () => {
    const limiter = new ExpensiveCheckLimiter(4, { share: 4, reserve: 1 });
    for (const c of ['s1', 's2', 's3', 's4']) await limiter.run(c, async () => false);
    const g = gated();
    const suspects = ['s1', 's2', 's3'].map((c) => limiter.run(c, g.check));
    await Promise.resolve();
    expect(limiter.running).toBe(3);
    expect(await limiter.run('s4', g.check)).toEqual({ ran: false, charge: false });
    expect(await limiter.run('fresh', async () => true)).toEqual({ ran: true, value: true });
    for (let i = 0; i < 3; i++) g.finish(false);
    await Promise.all(suspects);
  });

  it('a client holding a check is suspect for its next one, so one address gets one clean check at a time', async () => {
    const limiter = new ExpensiveCheckLimiter(2, { share: 2, reserve: 1 });
    const g = gated();
    const first = limiter.run('x', g.check);
    // x's second check is suspect: the last slot is the clean reserve.
    expect(await limiter.run('x', g.check)).toEqual({ ran: false, charge: false });
    g.finish(true);
    expect(await first).toEqual({ ran: true, value: true });
  });

  it('a failure makes the client suspect for the window only; a success in between does not clear it', async () => {
    const clock = { now: 0 };
    const limiter = new ExpensiveCheckLimiter(2, {
      share: 2,
      reserve: 1,
      failureWindowMs: 1_000,
      now: () => clock.now,
    });
    const g = gated();
    await limiter.run('x', async () => false);
    const held = limiter.run('other', g.check);
    // Suspect: the last slot is reserved.
    expect(await limiter.run('x', async () => true)).toEqual({ ran: false, charge: false });
    g.finish(true);
    await held;
    expect(await limiter.run('x', async () => true)).toEqual({ ran: true, value: true });
    const again = limiter.run('other', g.check);
    expect(await limiter.run('x', async () => true)).toEqual({ ran: false, charge: false });
    clock.now = 1_000;
    // The window is over: clean again, and it may take the reserved slot.
    expect(await limiter.run('x', async () => true)).toEqual({ ran: true, value: true });
    g.finish(true);
    await again;
  });

  it('a clean check that waits too long is refused, not charged, and leaves nothing behind', async () => {
    const limiter = new ExpensiveCheckLimiter(1, { maxWaitMs: 30 });
    const g = gated();
    const held = limiter.run('h', g.check);
    const started = Date.now();
    expect(await limiter.run('late', async () => true)).toEqual({ ran: false, charge: false });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(limiter.waiting).toBe(0);
    g.finish(true);
    await held;
    expect(limiter.running).toBe(0);
    // It held nothing after giving up: clean, and runs at once.
    expect(await limiter.run('late', async () => true)).toEqual({ ran: true, value: true });
  });

  it('the line is bounded: past maxWaiting a clean check is refused at once', async () => {
    const limiter = new ExpensiveCheckLimiter(1, { maxWaiting: 2 });
    const g = gated();
    const held = limiter.run('h', g.check);
    const waiting = [limiter.run('w1', async () => true), limiter.run('w2', async () => true)];
    expect(limiter.waiting).toBe(2);
    expect(await limiter.run('w3', async () => true)).toEqual({ ran: false, charge: false });
    g.finish(true);
    expect(await Promise.all([held, ...waiting])).toEqual(Array(3).fill({ ran: true, value: true }));
  });

  it('the memory of failures is bounded: the oldest is forgotten first', async () => {
    const limiter = new ExpensiveCheckLimiter(2, { share: 2, reserve: 1, maxRemembered: 2 });
    for (const c of ['old', 'mid', 'new']) await limiter.run(c, async () => false);
    const g = gated();
    const held = limiter.run('h', g.check);
    // 'mid' and 'new' are still suspect (refused the reserved slot); 'old' was forgotten.
    expect(await limiter.run('mid', async () => true)).toEqual({ ran: false, charge: false });
    expect(await limiter.run('new', async () => true)).toEqual({ ran: false, charge: false });
    expect(await limiter.run('old', async () => true)).toEqual({ ran: true, value: true });
    g.finish(true);
    await held;
  });

  it('a check that throws gives its slot back and is not a failure', async () => {
    const limiter = new ExpensiveCheckLimiter(2, { share: 2, reserve: 1 });
    await expect(
      limiter.run('a', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(limiter.running).toBe(0);
    const g = gated();
    const held = limiter.run('h', g.check);
    // Still clean: it may take the reserved slot.
    expect(await limiter.run('a', async () => true)).toEqual({ ran: true, value: true });
    g.finish(true);
    await held;
  });

  it('a release for a client holding nothing changes nothing', async () => {
    const limiter = new ExpensiveCheckLimiter(1);
    limiter.release('nobody');
    expect(limiter.running).toBe(0);
    expect(await limiter.run('a', async () => true)).toEqual({ ran: true, value: true });
  });
});

describe('FailureThrottle under a flood of new addresses', () => {
  it('full of live windows, new keys do not each cost a sweep of every entry; the newest are still counted', () => {
    const max = 1_000;
    const throttle = new FailureThrottle({ limit: 3, windowMs: 60_000, maxEntries: max, now: () => 0 });
    for (let i = 0; i < max; i++) throttle.fail(`2001:db8:0:${i.toString(16)}::/64`);
    const sweeps = vi.spyOn(Map.prototype, Symbol.iterator);
    try {
      for (let i = 0; i < max; i++) throttle.fail(`2001:db8:1:${i.toString(16)}::/64`);
      // One sweep makes room for a tenth: ten sweeps for as many new keys as entries, not one each.
      expect(sweeps.mock.calls.length).toBeLessThanOrEqual(10);
    } finally {
      sweeps.mockRestore();
    }
    const newest = `2001:db8:1:${(max - 1).toString(16)}::/64`;
    throttle.fail(newest);
    throttle.fail(newest);
    expect(throttle.lockedFor(newest)).toBe(60);
  });
});
