import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNACKNOWLEDGED_HEADER } from '../src/controlplane/api/replica-report.js';
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
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 20, "one cluster, one truth": three replicas (real processes) on one PostgreSQL
 * database. A change made through A is in force on B and C before A's call returns: a client
 * hammering B and C over fresh connections gets no stale answer after the return, for every
 * revoking change and every create, round after round.
 */

/** Rounds per kind of change. */
const ROUNDS = 6;
/** How long B and C are hammered after A's call returned, at least. */
const AFTER_MS = 300;
/** Requests sent after the return, at least (however long a loaded machine takes to send them). */
const MIN_AFTER = 20;

describe('three replicas on one PostgreSQL database', () => {
  let db: { url: string; drop(): Promise<void> };
  let masterKey: string;
  let up: TestUpstream;
  let a: Replica;
  let b: Replica;
  let c: Replica;
  let mk: string; // A's management key
  let others: Replica[];
  const extra: Replica[] = [];

  beforeAll(async () => {
    db = await createScratchDatabase();
    masterKey = randomBytes(32).toString('hex');
    up = await recordingUpstream('model');
    // A generous bound, so a replica slowed by a loaded machine is not named; the SIGSTOP test
    // waits it out once.
    const args = ['--failure-limit', '1000000', '--cluster-ack-timeout-ms', '3000'];
    // All three at once on an empty database: one migrates, and one set of node keys is made.
    [a, b, c] = await Promise.all([
      startReplica(db.url, masterKey, args),
      startReplica(db.url, masterKey, args),
      startReplica(db.url, masterKey, args),
    ]);
    others = [b, c];
    mk = a.keys().management;
    await deployProtected(a, mk, 'm', up.url);
    expect((await manageOn(a, mk, 'POST', '/groups', { name: 'readers' })).status).toBe(201);
    expect((await manageOn(a, mk, 'PUT', '/infrastructures/dev/grants/readers', { rights: ['view'] })).status).toBe(
      200,
    );
  }, 120_000);

  afterAll(async () => {
    for (const r of [a, b, c, ...extra]) {
      r?.proc.child.kill('SIGCONT');
      await r?.proc.stop();
    }
    await up?.close();
    await db?.drop();
  });

  const model = (r: Replica, deployment = 'm') => `${r.proc.urls.inference}/${deployment}/predict`;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  /** A new API key for deployment `m`, made on A. */
  const newKey = async (): Promise<{ id: string; key: string }> => {
    const res = await manageOn(a, mk, 'POST', '/api-keys', { deployment: 'm' });
    expect(res.status).toBe(201);
    return res.body.api_keys[0];
  };

  /** A user in `readers` (read on service m) with an API token for every deployment; made on A. */
  const newReader = async (name: string): Promise<{ token: string; id: string; session: string }> => {
    const password = `correct horse battery staple ${name}`;
    expect((await manageOn(a, mk, 'POST', '/users', { username: name, password, groups: ['readers'] })).status).toBe(
      201,
    );
    const session = (await manageOn(a, undefined, 'POST', '/sessions', { username: name, password })).body.token;
    const made = await manageOn(a, session, 'POST', '/tokens', { name: 'svc', endpoint_access: { all: true } });
    expect(made.status).toBe(201);
    return { token: made.body.token, id: made.body.id, session };
  };

  /**
   * Hammers B and C with `credential` on `deployment` while `change` runs on A, and a little
   * after. Returns the answers to requests sent after A's call returned (each must be a refusal).
   */
  const revokeWhileHammered = async (
    credential: string,
    change: () => Promise<{ status: number; headers: Headers }>,
    deployment = 'm',
  ): Promise<{ before: Shot[]; after: Shot[] }> => {
    const urls = others.map((r) => model(r, deployment));
    // Each replica admits it first, so each has it cached.
    for (const url of urls) expect((await call(url, { headers: bearer(credential) })).status).toBe(200);
    const shots = hammer(urls, bearer(credential));
    await sleep(50);
    const res = await change();
    const returned = performance.now();
    expect(res.status).toBeLessThan(300);
    // Every live replica acknowledged: none is named.
    expect(res.headers.get(UNACKNOWLEDGED_HEADER)).toBeNull();
    const all = await hammerOn(shots, returned, { ms: AFTER_MS, count: MIN_AFTER });
    return { before: all.filter((s) => s.sent < returned), after: all.filter((s) => s.sent >= returned) };
  };

  const expectNoStale = ({ before, after }: { before: Shot[]; after: Shot[] }) => {
    // The hammer was admitted before the change (so it could have seen a stale answer)...
    expect(before.some((s) => s.status === 200)).toBe(true);
    expect(after.length).toBeGreaterThanOrEqual(MIN_AFTER);
    // ...and not once after A's call returned, on either replica.
    expect(after.filter((s) => s.status === 200)).toEqual([]);
    expect(after.filter((s) => s.status === 0)).toEqual([]);
  };

  it('deleting an API key on A: B and C refuse it from the moment the DELETE returns', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = await newKey();
      expectNoStale(await revokeWhileHammered(key.key, () => manageOn(a, mk, 'DELETE', `/api-keys/${key.id}`)));
    }
  });

  it('revoking a platform JWT on A: B and C refuse it from the moment the revocation returns', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const issued = await manageOn(a, mk, 'GET', '/issue-jwt?deployment=m');
      expect(issued.status).toBe(200);
      expectNoStale(
        await revokeWhileHammered(issued.body.token, () =>
          manageOn(a, mk, 'POST', '/jwt-revocations', { jti: issued.body.jti }),
        ),
      );
    }
  });

  it('deleting an API token on A: B and C refuse it from the moment the DELETE returns', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const reader = await newReader(`tok${round}`);
      expect((await manageOn(a, mk, 'PUT', '/services/m/grants/readers', { rights: ['read'] })).status).toBe(200);
      expectNoStale(
        await revokeWhileHammered(reader.token, () => manageOn(a, reader.session, 'DELETE', `/tokens/${reader.id}`)),
      );
    }
  });

  it('removing a grant on A: B and C refuse the tokens it opened from the moment it returns; granting again opens them at once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const reader = await newReader(`grant${round}`);
      const grant = await manageOn(a, mk, 'PUT', '/services/m/grants/readers', { rights: ['read'] });
      expect(grant.status).toBe(200);
      const shots = await revokeWhileHammered(reader.token, () =>
        manageOn(a, mk, 'DELETE', '/services/m/grants/readers'),
      );
      expectNoStale(shots);
      expect(shots.after.every((s) => s.status === 403)).toBe(true);
      // A create-like change: in force everywhere on return too.
      expect((await manageOn(a, mk, 'PUT', '/services/m/grants/readers', { rights: ['read'] })).status).toBe(200);
      for (const r of others) expect((await call(model(r), { headers: bearer(reader.token) })).status).toBe(200);
    }
  });

  it('disabling a user on A: B and C refuse its tokens from the moment it returns', async () => {
    expect((await manageOn(a, mk, 'PUT', '/services/m/grants/readers', { rights: ['read'] })).status).toBe(200);
    for (let round = 0; round < ROUNDS; round++) {
      const reader = await newReader(`off${round}`);
      expectNoStale(
        await revokeWhileHammered(reader.token, () => manageOn(a, mk, 'POST', `/users/off${round}/disable`)),
      );
    }
  });

  it('disabling a deployment on A: B and C stop serving it on return; enabling serves it again at once', async () => {
    const key = await newKey();
    for (let round = 0; round < ROUNDS; round++) {
      const shots = await revokeWhileHammered(key.key, () => manageOn(a, mk, 'POST', '/deployments/m/disable'));
      expectNoStale(shots);
      expect(shots.after.every((s) => s.code === 'DEPLOYMENT_DISABLED')).toBe(true);
      expect((await manageOn(a, mk, 'POST', '/deployments/m/enable')).status).toBe(200);
      for (const r of others) expect((await call(model(r), { headers: bearer(key.key) })).status).toBe(200);
    }
  });

  it('deleting a deployment on A: B and C answer 404 on return', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `gone${round}`;
      const made = await manageOn(a, mk, 'POST', '/deployments', {
        name,
        upstream: up.url,
        access: 'protected',
        api_keys: 1,
      });
      expect(made.status).toBe(201);
      const shots = await revokeWhileHammered(
        made.body.api_keys[0].key,
        () => manageOn(a, mk, 'DELETE', `/deployments/${name}`),
        name,
      );
      expectNoStale(shots);
      expect(shots.after.every((s) => s.code === 'DEPLOYMENT_NOT_FOUND')).toBe(true);
    }
  });

  it('creating a deployment on A: B and C serve it from the moment the call returns (hammered before and after)', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const name = `new${round}`;
      const shots = hammer(
        others.map((r) => model(r, name)),
        {},
      );
      await sleep(50);
      const made = await manageOn(a, mk, 'POST', '/deployments', { name, upstream: up.url, access: 'public' });
      const returned = performance.now();
      expect(made.status).toBe(201);
      expect(made.headers.get(UNACKNOWLEDGED_HEADER)).toBeNull();
      const all = await hammerOn(shots, returned, { ms: AFTER_MS, count: MIN_AFTER });
      // Unknown before (so the hammer could have seen a stale 404), served by both after.
      expect(all.some((s) => s.sent < returned && s.code === 'DEPLOYMENT_NOT_FOUND')).toBe(true);
      const after = all.filter((s) => s.sent >= returned);
      expect(after.length).toBeGreaterThanOrEqual(MIN_AFTER);
      expect(after.filter((s) => s.status !== 200)).toEqual([]);
    }
  });

  it('creating an API key on A: B and C admit it as soon as the call returns', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const key = await newKey();
      const shots = hammer(
        others.map((r) => model(r)),
        bearer(key.key),
      );
      const all = await hammerOn(shots, 0, { ms: AFTER_MS, count: MIN_AFTER });
      expect(all.length).toBeGreaterThanOrEqual(MIN_AFTER);
      expect(all.filter((s) => s.status !== 200)).toEqual([]);
    }
  });

  /** TorchServe's token API on A: renews a node key with the API key; the new key and the answer's headers. */
  const renewOnA = async (type: 'management' | 'inference') => {
    const res = await fetch(`${a.proc.urls.management}/token?type=${type}`, {
      method: 'POST',
      headers: bearer(a.keys().api),
    });
    return { status: res.status, headers: res.headers, key: ((await res.json()) as { key: string }).key };
  };

  it('one set of node keys (the three started at once on an empty database): every replica writes the same key_file.json and accepts the same keys', async () => {
    expect(b.keys()).toEqual(a.keys());
    expect(c.keys()).toEqual(a.keys());
    for (const r of [a, b, c]) {
      expect((await manageOn(r, a.keys().management, 'GET', '/deployments')).status).toBe(200);
      expect((await call(model(r), { headers: bearer(a.keys().inference) })).status).toBe(200);
    }
  });

  it('renewing the inference key on A: B and C refuse the old one and admit the new one on return', async () => {
    for (let round = 0; round < 3; round++) {
      const old = a.keys().inference;
      let renewed = '';
      expectNoStale(
        await revokeWhileHammered(old, async () => {
          const res = await renewOnA('inference');
          renewed = res.key;
          return res;
        }),
      );
      for (const r of others) {
        expect((await call(model(r), { headers: bearer(renewed) })).status).toBe(200);
        expect(r.keys().inference).toBe(renewed);
      }
    }
  });

  it('renewing the management key on A: on return B and C refuse the old one, accept the new one, and their key files hold it', async () => {
    for (let round = 0; round < 3; round++) {
      const old = mk;
      const res = await renewOnA('management');
      expect(res.status).toBe(200);
      expect(res.headers.get(UNACKNOWLEDGED_HEADER)).toBeNull();
      for (const r of [a, ...others]) {
        expect((await manageOn(r, old, 'GET', '/deployments')).status).toBe(401);
        expect((await manageOn(r, res.key, 'GET', '/deployments')).status).toBe(200);
        expect(r.keys().management).toBe(res.key);
      }
      mk = res.key;
    }
  });

  it('a replica that does not acknowledge in time is named in the response and the audit log, dropped, and rejoins once caught up', async () => {
    const key = await newKey();
    for (const r of others) expect((await call(model(r), { headers: bearer(key.key) })).status).toBe(200);
    c.proc.child.kill('SIGSTOP');
    let deleted: { status: number; headers: Headers };
    try {
      deleted = await manageOn(a, mk, 'DELETE', `/api-keys/${key.id}`);
    } finally {
      c.proc.child.kill('SIGCONT');
    }
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get(UNACKNOWLEDGED_HEADER)).toBe(c.name);
    // B acknowledged: it refuses the key.
    expect((await call(model(b), { headers: bearer(key.key) })).status).toBe(401);
    // The audit log names the dropped replica, linked to the request.
    let drops: any[] = [];
    for (let i = 0; i < 50 && drops.length === 0; i++) {
      drops = (await manageOn(a, mk, 'GET', '/audit?action=replica.drop')).body.records;
      if (drops.length === 0) await sleep(100);
    }
    expect(drops).toEqual([
      expect.objectContaining({ action: 'replica.drop', target_kind: 'replica', target_name: c.name, actor: a.name }),
    ]);
    // C finds itself dropped, catches up and rejoins: it refuses the key, and the next change
    // waits for it again (it is not named).
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await call(`${c.proc.urls.inference}/_health/ready`)).status;
      if (ready !== 200) await sleep(50);
    }
    expect(ready).toBe(200);
    expect((await call(model(c), { headers: bearer(key.key) })).status).toBe(401);
    const next = await newKey();
    expect((await call(model(c), { headers: bearer(next.key) })).status).toBe(200);
    let named: string | null = 'unset';
    for (let i = 0; i < 30 && named !== null; i++) {
      const res = await manageOn(a, mk, 'POST', '/deployments/m/disable');
      named = res.headers.get(UNACKNOWLEDGED_HEADER);
      await manageOn(a, mk, 'POST', '/deployments/m/enable');
      if (named !== null) await sleep(200);
    }
    expect(named).toBeNull();
    expect((await call(model(c), { headers: bearer(next.key) })).status).toBe(200);
  });

  it('a replica (two workers) whose LISTEN connection is cut refuses protected requests until caught up, and never admits a revoked credential', async () => {
    // Grace 0: it fails closed the moment it notices. Two workers: they fail closed with it.
    const d = await startReplica(db.url, masterKey, [
      '--failure-limit',
      '1000000',
      '--cluster-grace-ms',
      '0',
      '--workers',
      '2',
    ]);
    extra.push(d);
    const key = await newKey();
    expect((await call(model(d), { headers: bearer(key.key) })).status).toBe(200);
    const shots = hammer([model(d)], bearer(key.key), { clients: 2 });
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    let returned = Number.POSITIVE_INFINITY;
    const refusals: string[] = [];
    try {
      const cut = await admin.query(
        'select pg_terminate_backend(pid) as done from pg_stat_activity where application_name = $1',
        [`modelgate-listen:${d.name}`],
      );
      expect(cut.rows).toEqual([{ done: true }]);
      // It notices and refuses: protected requests get 503 NOT_READY, readiness says why, and
      // its management API admits no credential either.
      for (let i = 0; i < 200 && refusals.length === 0; i++) {
        const res = await call(model(d), { headers: bearer(key.key) });
        if (res.status === 503) {
          refusals.push(res.json.error.code);
          const ready = await call(`${d.proc.urls.inference}/_health/ready`);
          refusals.push(`${ready.status} ${ready.json?.error?.message}`);
          const managed = await manageOn(d, mk, 'GET', '/deployments');
          refusals.push(`${managed.status} ${managed.body?.error?.code}`);
        } else await sleep(5);
      }
      // Revoked meanwhile, on A.
      const deleted = await manageOn(a, mk, 'DELETE', `/api-keys/${key.id}`);
      returned = performance.now();
      expect(deleted.status).toBe(204);
    } finally {
      await admin.end();
    }
    expect(refusals[0]).toBe('NOT_READY');
    // Readiness may already be back if it caught up between the two requests.
    expect(refusals[1]).toMatch(/^(503 .*change-feed connection|200)/);
    expect(refusals[2]).toMatch(/^(503 NOT_READY|200)/);
    expect(refusals).toContain('503 NOT_READY');
    // It reconnects and catches up: ready again, the revoked key refused.
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await call(`${d.proc.urls.inference}/_health/ready`)).status;
      if (ready !== 200) await sleep(50);
    }
    expect(ready).toBe(200);
    await sleep(AFTER_MS);
    const all = await shots.stop();
    expect(all.filter((s) => s.sent >= returned && s.status === 200)).toEqual([]);
    expect(all.some((s) => s.status === 503 && s.code === 'NOT_READY')).toBe(true);
    expect((await call(model(d), { headers: bearer(key.key) })).status).toBe(401);
    const fresh = await newKey();
    expect((await call(model(d), { headers: bearer(fresh.key) })).status).toBe(200);
  });
});
