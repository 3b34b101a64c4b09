import { describe, expect, it } from 'vitest';
import { type Denial, deny, denyForNow } from '../src/auth/denial.js';
import { decideCheck, defaultShare, ExpensiveCheckLimiter } from '../src/auth/expensive-check-limiter.js';
import type { Principal } from '../src/auth/principal.js';
import { attemptOutcome, FailureThrottle } from '../src/gateway/failure-throttle.js';

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

describe('ExpensiveCheckLimiter: a fair share of the cap per client', () => {
  it.each([
    [{ total: 0, client: 0 }, 'run'],
    [{ total: 3, client: 1 }, 'run'],
    [{ total: 3, client: 2 }, 'own_share'],
    [{ total: 8, client: 0 }, 'node_cap'],
    [{ total: 8, client: 1 }, 'own_share'],
  ] as const)('decideCheck(%o) with capacity 8, share 2 is %s', (running, decision) => {
    expect(decideCheck(running, { capacity: 8, share: 2 })).toBe(decision);
  });

  it.each([
    [1, 1],
    [3, 1],
    [16, 4],
    [64, 16],
  ])('the default share of %i is %i', (capacity, share) => {
    expect(defaultShare(capacity)).toBe(share);
  });

  it('a flooding client is refused past its share (charged); a newcomer at a full node is not charged', async () => {
    const limiter = new ExpensiveCheckLimiter(4, 2);
    const gates: (() => void)[] = [];
    const slow = () => new Promise<boolean>((resolve) => gates.push(() => resolve(false)));
    const running = [limiter.run('a', slow), limiter.run('a', slow)];
    expect(await limiter.run('a', slow)).toEqual({ ran: false, charge: true });
    // Another client still has room: the flooder holds only its share.
    running.push(limiter.run('b', slow), limiter.run('b', slow));
    expect(await limiter.run('c', slow)).toEqual({ ran: false, charge: false });
    for (const open of gates) open();
    expect(await Promise.all(running)).toEqual(Array(4).fill({ ran: true, value: false }));
    expect(await limiter.run('c', async () => true)).toEqual({ ran: true, value: true });
  });

  it('a check that throws gives its slot back', async () => {
    const limiter = new ExpensiveCheckLimiter(1);
    await expect(
      limiter.run('a', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await limiter.run('a', async () => 1)).toEqual({ ran: true, value: 1 });
  });
});
