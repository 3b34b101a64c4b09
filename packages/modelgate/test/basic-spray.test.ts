import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * A spray of wrong Basic passwords from many addresses (issue 17, defect 12), end to end on a
 * real gateway socket. The node trusts 127.0.0.1 as its load balancer, so every request comes
 * from loopback and names its client in `X-Forwarded-For`: attackers are 10.x.y.z (one fresh
 * address per victim of the spray), innocent callers 198.51.100.x / 203.0.113.x, each fresh.
 */

const CAP = 4;
const LIMIT = 5;
const PROXY = '127.0.0.1';
const USER = 'modelgate';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let t: TestNode;
let up: TestUpstream;
const passwords: Record<string, string> = {};
/** Keep-alive connections for the spray: thousands of requests without thousands of sockets. */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
/** A fresh innocent address per call, never reused. */
let innocents = 0;
const freshInnocent = () => {
  innocents++;
  return `198.51.${100 + (innocents >> 8)}.${innocents & 255}`;
};

/** Creates a generated secret and a protected deployment using it; returns the password. */
async function deployWithSecret(name: string, secretName = `${name}-password`): Promise<string> {
  const secret = await manage(t, 'POST', '/secrets', { name: secretName, generate: true });
  expect(secret.status, JSON.stringify(secret.body)).toBe(201);
  const deployed = await manage(t, 'POST', '/deployments', {
    name,
    upstream: up.url,
    access: 'protected',
    auth: { basic_secret: secretName },
  });
  expect(deployed.status, JSON.stringify(deployed.body)).toBe(201);
  return secret.body.value as string;
}

beforeAll(async () => {
  t = await startTestNode({
    trusted_proxies: `${PROXY}/32`,
    failure_limit: String(LIMIT),
    failure_window_s: '60',
    password_check_concurrency: String(CAP),
  });
  up = await recordingUpstream('model');
  for (const name of ['spray-a', 'spray-b', 'spray-c']) passwords[name] = await deployWithSecret(name);
});

afterAll(async () => {
  agent.destroy();
  await t?.close();
  await up?.close();
});

/** One request to a deployment as `client`, through the trusted proxy (loopback). */
function predict(deployment: string, authorization: string, client: string) {
  return call(`${t.node.urls.inference}/${deployment}/x`, {
    headers: { authorization, 'x-forwarded-for': client },
    localAddress: PROXY,
  });
}

/** The same over the spray's keep-alive pool; only the status matters. */
function sprayRequest(deployment: string, authorization: string, client: string): Promise<number> {
  const u = new URL(`${t.node.urls.inference}/${deployment}/x`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        headers: { authorization, 'x-forwarded-for': client },
        localAddress: PROXY,
        agent,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface Spray {
  /** Answers so far, by status. */
  readonly statuses: Map<number, number>;
  /** Distinct attacker addresses used so far. */
  readonly addresses: () => number;
  /** Stops sending and waits for what is in flight. */
  stop(): Promise<void>;
}

/**
 * Starts a spray: up to `addresses` fresh addresses, each sending `perAddress` wrong passwords
 * one after the other (so each stays under its own failure limit), `concurrency` at once.
 * Bounded in count and in time (`deadlineMs`) even if nobody stops it.
 */
function startSpray(
  deployment: string,
  { addresses = 2000, perAddress = 2, concurrency = 16, deadlineMs = 40_000 } = {},
): Spray {
  let next = 0;
  let stopped = false;
  const statuses = new Map<number, number>();
  const until = Date.now() + deadlineMs;
  const worker = async () => {
    while (!stopped && next < addresses && Date.now() < until) {
      const i = next++;
      const from = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      for (let k = 0; k < perAddress && !stopped; k++) {
        const status = await sprayRequest(deployment, basic(USER, `guess-${i}-${k}-${Math.random()}`), from);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    statuses,
    addresses: () => next,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Resolves once `condition` holds; throws after `ms` (polled every 20 ms). */
async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The spray holds the password-check capacity: its own attempts are being refused for it. */
async function saturated(spray: Spray): Promise<void> {
  await waitFor(() => (spray.statuses.get(429) ?? 0) >= 10, 20_000, 'the spray to saturate the password checks');
}

/** What the spray got: refusals only (401 wrong password, 429 throttled), never in, never a 500. */
function expectOnlyRefusals(spray: Spray): void {
  const statuses = [...spray.statuses.keys()].sort();
  expect(
    statuses.every((s) => s === 401 || s === 429),
    `spray statuses ${JSON.stringify([...spray.statuses])}`,
  ).toBe(true);
}

/**
 * Takes every password-check slot of the node (as `CAP` distinct clean clients), so no scrypt
 * can start until `release`: what a saturated queue looks like, deterministically.
 */
async function holdAllSlots(): Promise<() => void> {
  const holders = Array.from({ length: CAP }, (_, i) => `holder-${i}-${Math.random()}`);
  for (const holder of holders) expect(await t.node.passwordChecks.acquire(holder)).toBe('run');
  return () => {
    for (const holder of holders) t.node.passwordChecks.release(holder);
  };
}

/** Whether `promise` is still unanswered after `ms` (a check queued behind held slots). */
async function stillPending(promise: Promise<unknown>, ms = 300): Promise<boolean> {
  const marker = Symbol('pending');
  const first = await Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(marker), ms))]);
  return first === marker;
}

/**
 * Proves a credential is not answered from the success cache: with every password check taken,
 * its request waits for one; once the slots are free it is checked and refused (401).
 */
async function expectCheckedAndRefused(deployment: string, authorization: string): Promise<void> {
  const release = await holdAllSlots();
  try {
    const waiting = predict(deployment, authorization, freshInnocent());
    expect(await stillPending(waiting)).toBe(true);
    release();
    expect((await waiting).status).toBe(401);
  } finally {
    release();
  }
}

describe('a spray of wrong Basic passwords from many addresses', () => {
  it('an innocent fresh address gets in with the right password: on its first request and on later ones', async () => {
    const spray = startSpray('spray-a');
    try {
      await saturated(spray);
      const innocent = freshInnocent();
      const first = await predict('spray-a', basic(USER, passwords['spray-a']!), innocent);
      expect(first.status, `first request: ${first.text}`).toBe(200);
      // Later requests (the same address, and another fresh one) come from the success cache.
      for (let i = 0; i < 5; i++) {
        expect((await predict('spray-a', basic(USER, passwords['spray-a']!), innocent)).status).toBe(200);
      }
      expect((await predict('spray-a', basic(USER, passwords['spray-a']!), freshInnocent())).status).toBe(200);
      // The spray is still refused while this happens.
      expect((await predict('spray-a', basic(USER, 'still-a-guess'), freshInnocent())).status).not.toBe(200);
    } finally {
      await spray.stop();
    }
    expectOnlyRefusals(spray);
    expect(spray.addresses()).toBeGreaterThan(30);
  });

  it('a second innocent, on another deployment, gets its first request through the same spray', async () => {
    const spray = startSpray('spray-a');
    try {
      await saturated(spray);
      const first = await predict('spray-b', basic(USER, passwords['spray-b']!), freshInnocent());
      expect(first.status, `first request: ${first.text}`).toBe(200);
    } finally {
      await spray.stop();
    }
    expectOnlyRefusals(spray);
  });

  it('management sign-in (the same password-check cap) succeeds from a fresh address during the spray', async () => {
    const password = `correct horse battery staple ${Math.random()}`;
    const made = await api(t, t.keys.management, 'POST', '/users', { username: 'spray-victim', password });
    expect(made.status, made.text).toBe(201);
    const spray = startSpray('spray-a');
    try {
      await saturated(spray);
      const signedIn = await api(
        t,
        undefined,
        'POST',
        '/sessions',
        { username: 'spray-victim', password },
        { 'x-forwarded-for': freshInnocent() },
      );
      expect(signedIn.status, signedIn.text).toBe(201);
    } finally {
      await spray.stop();
    }
    expectOnlyRefusals(spray);
  });
});

describe('the verified-success cache', () => {
  it('a password proven once is served while every password check is taken', async () => {
    expect((await predict('spray-b', basic(USER, passwords['spray-b']!), freshInnocent())).status).toBe(200);
    const release = await holdAllSlots();
    try {
      for (let i = 0; i < 3; i++) {
        expect((await predict('spray-b', basic(USER, passwords['spray-b']!), freshInnocent())).status).toBe(200);
      }
    } finally {
      release();
    }
    // Meanwhile an unproven password does need a check: it waits for a slot.
    await expectCheckedAndRefused('spray-b', basic(USER, 'unproven'));
  });

  it('after a redeploy with a new secret value, the old password is refused and the new one works', async () => {
    const old = passwords['spray-c']!;
    expect((await predict('spray-c', basic(USER, old), freshInnocent())).status).toBe(200);
    const next = `changed-${Math.random()}`;
    expect((await manage(t, 'PUT', '/secrets/spray-c-password', { value: next })).status).toBe(200);
    expect((await manage(t, 'POST', '/deployments/spray-c/redeploy')).status).toBe(200);
    expect((await predict('spray-c', basic(USER, old), freshInnocent())).status).toBe(401);
    // Not from the cache: with every check taken, the old password waits for one.
    await expectCheckedAndRefused('spray-c', basic(USER, old));
    expect((await predict('spray-c', basic(USER, next), freshInnocent())).status).toBe(200);
    passwords['spray-c'] = next;
  });

  it('after the deployment is deleted and made again with another secret, the old password is refused', async () => {
    const old = await deployWithSecret('spray-d');
    expect((await predict('spray-d', basic(USER, old), freshInnocent())).status).toBe(200);
    expect((await manage(t, 'DELETE', '/deployments/spray-d')).status).toBe(204);
    expect((await predict('spray-d', basic(USER, old), freshInnocent())).status).toBe(404);
    const next = await deployWithSecret('spray-d', 'spray-d2-password');
    expect((await predict('spray-d', basic(USER, old), freshInnocent())).status).toBe(401);
    expect((await predict('spray-d', basic(USER, next), freshInnocent())).status).toBe(200);
  });

  it.each([
    ['a wrong password', () => basic(USER, 'wrong-password')],
    ['the right password under a wrong username', () => basic('someone-else', passwords['spray-a']!)],
    ['the right password with a NUL appended', () => basic(USER, `${passwords['spray-a']}\u0000`)],
  ])('%s is never cached: refused again, and again through a password check', async (_name, credential) => {
    expect((await predict('spray-a', credential(), freshInnocent())).status).toBe(401);
    await expectCheckedAndRefused('spray-a', credential());
  });

  it('a password right for deployment A does not open deployment B (another secret)', async () => {
    expect((await predict('spray-a', basic(USER, passwords['spray-a']!), freshInnocent())).status).toBe(200);
    expect((await predict('spray-b', basic(USER, passwords['spray-a']!), freshInnocent())).status).toBe(401);
    await expectCheckedAndRefused('spray-b', basic(USER, passwords['spray-a']!));
    // And A's own password still works on A, B's on B.
    expect((await predict('spray-a', basic(USER, passwords['spray-a']!), freshInnocent())).status).toBe(200);
    expect((await predict('spray-b', basic(USER, passwords['spray-b']!), freshInnocent())).status).toBe(200);
  });
});
