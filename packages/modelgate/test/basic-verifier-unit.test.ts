import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type BasicScope, BasicVerifier, provenKey } from '../src/dataplane/verifiers/basic.js';
import { type CheckSlots, ExpensiveCheckLimiter } from '../src/http/expensive-check-limiter.js';
import { isDenial } from '../src/kernel/denial.js';
import type { DeploymentSnapshot } from '../src/kernel/deployment-snapshot.js';
import { createLocalBus } from '../src/kernel/event-bus.js';
import { hashPassword } from '../src/kernel/password-hash.js';
import { PendingCheck } from '../src/kernel/pending-check.js';
import { TOPICS } from '../src/kernel/topics.js';

/**
 * The verified-success cache of Basic credentials (issue 17, defect 12), without a node: what is
 * answered from memory (an identity at once) and what needs a password check (`PendingCheck`).
 */

const PASSWORD = 'right horse battery';
const hashes = new Map<string, Promise<string>>();
const hashOf = (password: string) => {
  if (!hashes.has(password)) hashes.set(password, hashPassword(password));
  return hashes.get(password)!;
};

async function scope(over: Partial<BasicScope> = {}, password = PASSWORD): Promise<BasicScope> {
  return {
    deployment_id: 'dep_a',
    deployment: 'model-a',
    revision: 1,
    username: 'modelgate',
    password_hash: await hashOf(password),
    ...over,
  };
}

/** Counts the password checks that reach the slots. */
function countingSlots(): CheckSlots & { acquired: number } {
  const limiter = new ExpensiveCheckLimiter(4);
  const slots = {
    acquired: 0,
    acquire(client: string) {
      slots.acquired++;
      return limiter.acquire(client);
    },
    release: (client: string, failed?: boolean) => limiter.release(client, failed),
  };
  return slots;
}

/** Verifies a pair against the deployment revision a scope describes, as the gateway would ask. */
function check(verifier: BasicVerifier, username: string, password: string, s: BasicScope) {
  const snapshot = {
    id: s.deployment_id,
    name: s.deployment,
    revision: s.revision,
    basic: { username: s.username, password_hash: s.password_hash },
  } as DeploymentSnapshot;
  return verifier.verify({ username, password }, snapshot);
}

/** Runs a verification to its end, as the gateway would. */
async function settle(verdict: ReturnType<BasicVerifier['verify']>, client = '198.51.100.1') {
  return verdict instanceof PendingCheck ? verdict.run(client) : verdict;
}

describe('provenKey: the cache key of a pair', () => {
  it('is keyed: another process key gives another digest, and the password is not in it', async () => {
    const s = await scope();
    const one = provenKey(randomBytes(32), s, 'modelgate', PASSWORD);
    const two = provenKey(randomBytes(32), s, 'modelgate', PASSWORD);
    expect(one).not.toBe(two);
    expect(one).not.toContain(PASSWORD);
    expect(Buffer.from(one, 'base64')).toHaveLength(32);
  });

  it.each([
    ['another deployment id', { deployment_id: 'dep_b' }],
    ['another revision', { revision: 2 }],
    ['another stored hash (a redeploy salts anew)', { password_hash: 'scrypt-sha256$16384$8$1$x$y' }],
  ])('differs for %s', async (_name, over) => {
    const key = randomBytes(32);
    expect(provenKey(key, await scope(), 'modelgate', PASSWORD)).not.toBe(
      provenKey(key, await scope(over), 'modelgate', PASSWORD),
    );
  });

  it('keeps the parts apart: moving characters between username and password changes the key', async () => {
    const key = randomBytes(32);
    const s = await scope();
    expect(provenKey(key, s, 'ab', 'c')).not.toBe(provenKey(key, s, 'a', 'bc'));
    expect(provenKey(key, s, 'a"', 'b')).not.toBe(provenKey(key, s, 'a', '"b'));
  });
});

describe('BasicVerifier: a password proven once skips the password check', () => {
  it('the first right pair is checked, the next ones are answered from memory', async () => {
    const slots = countingSlots();
    const verifier = new BasicVerifier(slots);
    const s = await scope();
    const first = check(verifier, 'modelgate', PASSWORD, s);
    expect(first).toBeInstanceOf(PendingCheck);
    expect(isDenial(await settle(first))).toBe(false);
    for (let i = 0; i < 3; i++) {
      const again = check(verifier, 'modelgate', PASSWORD, s);
      expect(again).toMatchObject({ principal: { kind: 'basic', id: 'dep_a@1' } });
    }
    expect(slots.acquired).toBe(1);
  });

  it.each([
    ['a wrong password', 'modelgate', 'wrong'],
    ['the right password under a wrong username', 'someone', PASSWORD],
    ['the right password with a NUL appended', 'modelgate', `${PASSWORD}\u0000`],
    ['an empty password', 'modelgate', ''],
  ])('%s is refused and never cached', async (_name, username, password) => {
    const slots = countingSlots();
    const verifier = new BasicVerifier(slots);
    const s = await scope();
    for (let i = 0; i < 2; i++) {
      const verdict = check(verifier, username, password, s);
      expect(verdict).toBeInstanceOf(PendingCheck);
      expect(await settle(verdict)).toMatchObject({ denied: 'unknown' });
    }
    expect(slots.acquired).toBe(2);
  });

  it('a check refused for capacity caches nothing', async () => {
    const refusing: CheckSlots = { acquire: () => 'node_cap', release: () => {} };
    const verifier = new BasicVerifier(refusing);
    const s = await scope();
    expect(await settle(check(verifier, 'modelgate', PASSWORD, s))).toMatchObject({ denied: 'busy' });
    expect(check(verifier, 'modelgate', PASSWORD, s)).toBeInstanceOf(PendingCheck);
  });

  it('a pair proven for one deployment or revision is not proven for another', async () => {
    const verifier = new BasicVerifier(countingSlots());
    const a = await scope();
    await settle(check(verifier, 'modelgate', PASSWORD, a));
    const b = await scope({ deployment_id: 'dep_b', deployment: 'model-b' }, 'b-password');
    const bSameSecretValue = await scope({ deployment_id: 'dep_b', deployment: 'model-b' });
    const aNext = await scope({ revision: 2 });
    expect(await settle(check(verifier, 'modelgate', PASSWORD, b))).toMatchObject({ denied: 'unknown' });
    // Even with the same password, another deployment needs its own check.
    expect(check(verifier, 'modelgate', PASSWORD, bSameSecretValue)).toBeInstanceOf(PendingCheck);
    expect(check(verifier, 'modelgate', PASSWORD, aNext)).toBeInstanceOf(PendingCheck);
  });

  it('a failed check makes the client suspect in the limiter', async () => {
    const limiter = new ExpensiveCheckLimiter(2, { share: 2, reserve: 1 });
    const verifier = new BasicVerifier(limiter);
    const s = await scope();
    await settle(check(verifier, 'modelgate', 'wrong', s), 'sprayer');
    // One slot taken by someone else: the other is the clean reserve, which a suspect may not take.
    expect(limiter.acquire('other')).toBe('run');
    expect(await settle(check(verifier, 'modelgate', PASSWORD, s), 'sprayer')).toMatchObject({ denied: 'busy' });
    expect(isDenial(await settle(check(verifier, 'modelgate', PASSWORD, s), 'innocent'))).toBe(false);
    limiter.release('other');
  });
});

describe('BasicVerifier: a change of the deployment evicts its proven pairs', () => {
  it.each([
    ['its name', 'model-a'],
    ['everything', '*'],
  ])('deployment.changed naming %s: checked again', async (_name, subject) => {
    const bus = createLocalBus();
    const verifier = new BasicVerifier(countingSlots(), bus);
    const a = await scope();
    const b = await scope({ deployment_id: 'dep_b', deployment: 'model-b' });
    await settle(check(verifier, 'modelgate', PASSWORD, a));
    await settle(check(verifier, 'modelgate', PASSWORD, b));
    await bus.publish({ topic: TOPICS.deploymentChanged, subject });
    expect(check(verifier, 'modelgate', PASSWORD, a)).toBeInstanceOf(PendingCheck);
    const bAfter = check(verifier, 'modelgate', PASSWORD, b);
    if (subject === '*') expect(bAfter).toBeInstanceOf(PendingCheck);
    else expect(bAfter).toMatchObject({ principal: { kind: 'basic', id: 'dep_b@1' } });
  });

  it('another topic evicts nothing', async () => {
    const bus = createLocalBus();
    const verifier = new BasicVerifier(countingSlots(), bus);
    const a = await scope();
    await settle(check(verifier, 'modelgate', PASSWORD, a));
    await bus.publish({ topic: TOPICS.apiKeyDeleted, subject: 'model-a' });
    expect(check(verifier, 'modelgate', PASSWORD, a)).not.toBeInstanceOf(PendingCheck);
  });

  it('a check still running when the deployment changes is not cached', async () => {
    const bus = createLocalBus();
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const limiter = new ExpensiveCheckLimiter(4);
    const slowSlots: CheckSlots = {
      acquire: async (client) => {
        await gate;
        return limiter.acquire(client);
      },
      release: (client, failed) => limiter.release(client, failed),
    };
    const verifier = new BasicVerifier(slowSlots, bus);
    const a = await scope();
    const running = settle(check(verifier, 'modelgate', PASSWORD, a));
    await bus.publish({ topic: TOPICS.deploymentChanged, subject: 'model-a' });
    open();
    expect(isDenial(await running)).toBe(false);
    expect(check(verifier, 'modelgate', PASSWORD, a)).toBeInstanceOf(PendingCheck);
  });
});
