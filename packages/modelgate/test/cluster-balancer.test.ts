import { randomBytes } from 'node:crypto';
import { type DemoServer, startDemoServer } from '@modelgate/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BALANCER_FILES,
  type BalancerKind,
  documentedBalancer,
  startBalancer,
  takenOut,
  withoutDirectives,
} from './helpers/balancers.js';
import {
  deployProtected,
  hammer,
  hammerOn,
  manageOn,
  type Replica,
  type Shot,
  sleep,
  startReplica,
} from './helpers/cluster.js';
import { call } from './helpers/http.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { hasBinary } from './helpers/proxies.js';
import { README } from './helpers/readme.js';
import { slowModel, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 20: a `kill -9` of one replica behind a balancer under load. With the balancer settings
 * the README documents (examples/balancers/, shown verbatim under "Balancer settings"), no client
 * sees an error, also for requests the dead replica had already passed to the model; with the
 * retry settings taken out, the same kill costs clients errors. Real processes throughout: three
 * replicas on one scratch PostgreSQL database, the demo model server (behind a delay, as a real
 * model takes time), haproxy and nginx from Debian.
 */

const SECTION = (() => {
  const start = README.indexOf('## Running several replicas');
  return README.slice(start, README.indexOf('\n## ', start));
})();

describe('the balancer configurations in the README', () => {
  it.each(Object.entries(BALANCER_FILES))('%s: the README shows %s verbatim', (kind, file) => {
    const open = `\`\`\`${kind}\n`;
    const start = SECTION.indexOf(open);
    expect(start, `a \`\`\`${kind} block in "Running several replicas"`).toBeGreaterThan(0);
    const block = SECTION.slice(start + open.length, SECTION.indexOf('```', start + open.length));
    expect(block).toBe(documentedBalancer(kind as BalancerKind));
    expect(SECTION).toContain(file);
  });
});

// CI installs both (.ci/run); a developer machine without them skips rather than fails.
const suite = (hasBinary('haproxy') && hasBinary('nginx')) || process.env.CI ? describe : describe.skip;

/** Concurrent clients: half keep one connection to the balancer open, half open one per request. */
const CLIENTS = 24;
/** Requests each replica serves through the balancer before the kill, at least. */
const BEFORE_KILL = 30;
/** Requests sent after the balancer took the dead replica out, at least, and for how long. */
const AFTER_OUT = { count: 300, ms: 1500 };
/**
 * What the model takes per answer: the demo's classifier answers at once, a real model does not,
 * and the time a request spends inside the replica is what a kill interrupts.
 */
const MODEL_MS = 100;
/** The clients' own address, so the access lines show X-Forwarded-For reached the replicas. */
const CLIENT_ADDRESS = '127.0.0.2';

suite('a replica killed with SIGKILL behind a balancer under load', () => {
  let db: { url: string; drop(): Promise<void> };
  let masterKey: string;
  let demo: DemoServer;
  let model: TestUpstream;
  /** Replicas alive now; a case kills one and the next case starts its replacement. */
  const live: Replica[] = [];
  const started: Replica[] = [];
  let apiKey: string;

  // The balancer reaches the replicas from 127.0.0.1; they believe its X-Forwarded-For.
  const startOne = async () => {
    const replica = await startReplica(db.url, masterKey, ['--trusted-proxies', '127.0.0.1']);
    started.push(replica);
    live.push(replica);
    return replica;
  };

  beforeAll(async () => {
    db = await createScratchDatabase();
    masterKey = randomBytes(32).toString('hex');
    demo = await startDemoServer();
    model = await slowModel(demo.url, MODEL_MS);
    await Promise.all([startOne(), startOne(), startOne()]);
    const [a] = live as [Replica];
    const mk = a.keys().management;
    await deployProtected(a, mk, 'm', model.url);
    // An API key made on one replica works on every replica (the create waits for them all).
    const key = await manageOn(a, mk, 'POST', '/api-keys', { deployment: 'm' });
    expect(key.status).toBe(201);
    apiKey = key.body.api_keys[0].key;
  }, 120_000);

  afterAll(async () => {
    for (const replica of started) await replica.proc.stop();
    await model?.close();
    await demo?.close();
    await db?.drop();
  });

  const predict = { method: 'POST', body: JSON.stringify({ text: 'I love this model' }), localAddress: CLIENT_ADDRESS };
  const headers = () => ({ authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' });
  const address = (r: Replica) => new URL(r.proc.urls.inference).host;

  /** Requests to `m` from the clients (through the balancer) a replica answered 200, from line `from` on. */
  const served = (r: Replica, from: number): number =>
    r.proc.lines.slice(from).filter((line) => {
      if (!line.includes('"msg":"request"')) return false;
      const entry = JSON.parse(line);
      return entry.deployment === 'm' && entry.status === 200 && entry.remote === CLIENT_ADDRESS;
    }).length;

  /** Polls `done` every 100 ms, at most `ms`; throws with `what` when it never holds. */
  const until = async (done: () => boolean, what: string, ms = 30_000) => {
    for (const deadline = Date.now() + ms; !done(); await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    }
  };

  /**
   * Three live replicas behind `kind` running `text`; clients send predictions through it until
   * every replica has served some, then the middle replica is killed with SIGKILL; the load goes on
   * until the balancer has taken it out, and then for `AFTER_OUT`.
   */
  const killUnderLoad = async (kind: BalancerKind, text: string) => {
    while (live.length < 3) await startOne();
    const trio = live.slice(0, 3) as [Replica, Replica, Replica];
    for (const r of trio) {
      const res = await call(`${r.proc.urls.inference}/m/predictions/sentiment`, { headers: headers(), ...predict });
      expect(res.status, `${r.name} serves the deployment`).toBe(200);
    }
    const balancer = await startBalancer(kind, text, trio.map(address));
    const hitsBefore = model.hits.length;
    try {
      const marks = trio.map((r) => r.proc.lines.length);
      const load = hammer([`${balancer.url}/m/predictions/sentiment`], headers(), {
        clients: CLIENTS,
        keepAlive: true,
        request: predict,
        maxShots: 500_000,
      });
      await until(() => trio.every((r, i) => served(r, marks[i] as number) >= BEFORE_KILL), 'every replica serves');
      // The second replica: haproxy's `r2`, nginx's second `server`.
      const victim = trio[1];
      const victimServed = served(victim, marks[1] as number);
      victim.proc.child.kill('SIGKILL');
      const killedAt = performance.now();
      await victim.proc.exited;
      live.splice(live.indexOf(victim), 1);
      const afterKill = trio.map((r) => r.proc.lines.length);
      await until(() => takenOut(kind, balancer.output(), 'r2', address(victim)), `${kind} takes the dead replica out`);
      const outAt = performance.now();
      const shots = await hammerOn(load, outAt, AFTER_OUT);
      return {
        shots,
        // Requests the model saw beyond the 200s the clients got: the killed replica had passed
        // them on and died before answering (sent again to another replica, the model saw them
        // twice).
        interrupted: model.hits.length - hitsBefore - shots.filter((s) => s.status === 200).length,
        victimServed,
        afterKill: shots.filter((s) => s.sent >= killedAt),
        afterOut: shots.filter((s) => s.sent >= outAt),
        survivorsServed: [trio[0], trio[2]].map((r) => served(r, afterKill[trio.indexOf(r)] as number)),
        balancerOutput: balancer.output(),
      };
    } finally {
      await balancer.close();
    }
  };

  const failures = (shots: readonly Shot[]) => shots.filter((s) => s.status !== 200);

  it.each(['haproxy', 'nginx'] as const)(
    '%s with the documented configuration: not one client error, and the load goes on',
    async (kind) => {
      const run = await killUnderLoad(kind, documentedBalancer(kind));
      console.log(
        `${kind}, documented: ${run.shots.length} requests, ${run.afterKill.length} sent after the kill, ` +
          `${run.interrupted} interrupted by it and sent again, ${failures(run.shots).length} errors`,
      );
      // The killed replica was serving its share up to the kill, and died with requests in hand...
      expect(run.victimServed).toBeGreaterThanOrEqual(BEFORE_KILL);
      expect(run.interrupted).toBeGreaterThan(0);
      // ...yet no client got anything but the model's answer, before, during or after...
      expect(failures(run.shots), run.balancerOutput).toEqual([]);
      // ...and the two others kept serving, past the moment the balancer took the dead one out.
      expect(run.afterOut.length).toBeGreaterThanOrEqual(AFTER_OUT.count);
      for (const count of run.survivorsServed) expect(count).toBeGreaterThan(0);
    },
    60_000,
  );

  it.each([
    ['haproxy', ['retries', 'option redispatch', 'retry-on']],
    ['nginx', ['proxy_next_upstream', 'proxy_next_upstream_tries']],
  ] as const)(
    '%s without the documented %j: the same kill costs clients errors',
    async (kind, directives) => {
      // haproxy's defaults then: 3 retries of a refused connection on the same (dead) replica, and
      // none of a request it had sent (502, or its client's kept connection closed); 503 once the
      // retries are spent, until the health check takes the replica out. nginx's default
      // (`error timeout`) tries the next replica after a refused connection, but never sends a POST
      // again (502).
      const run = await killUnderLoad(kind, withoutDirectives(documentedBalancer(kind), directives));
      const failed = failures(run.shots);
      const counts = new Map<string, number>();
      for (const s of failed) counts.set(s.code ?? String(s.status), (counts.get(s.code ?? String(s.status)) ?? 0) + 1);
      console.log(
        `${kind}, without ${directives.join(', ')}: ${run.shots.length} requests, ${failed.length} errors ` +
          `(${[...counts].map(([what, n]) => `${n} × ${what}`).join(', ')})`,
      );
      expect(run.victimServed).toBeGreaterThanOrEqual(BEFORE_KILL);
      expect(failed.length).toBeGreaterThan(0);
      // Only the balancer's own answers about the dead replica.
      expect(failed.filter((s) => s.status !== 502 && s.status !== 503 && s.code !== 'CONNECTION:ECONNRESET')).toEqual(
        [],
      );
    },
    60_000,
  );
});
