import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { waitForAudit } from './helpers/audit.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { testClock } from './helpers/clock.js';
import { withBrokenChecksum } from './helpers/credentials.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * API tokens (issue 11, BentoCloud B1–B5) end to end on real sockets, on SQLite and PostgreSQL:
 * create → use → list → delete, expiry, every combination of access types against a deployment
 * in the list, outside it, one the owner may not read, and the management API.
 */
describe.each(STORE_BACKENDS)('API tokens on $name', (backend) => {
  /** The node's clock: moved past an expiry instead of waiting for it. */
  const clock = testClock();
  let t: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  let alice: string; // reads alpha and beta on dev
  let bob: string; // same rights as alice, no admin
  let root: string; // global admin

  beforeAll(async () => {
    const store = await backend.setup();
    drop = store.drop;
    t = await startTestNode({ ...store.overrides, failure_limit: '1000' }, {}, { clock: clock.now });
    up = await recordingUpstream('model');
    const m = t.keys.management;
    for (const name of ['alpha', 'beta', 'hidden']) {
      await deploy(t, { name, upstream: up.url, access: 'protected', infrastructure: 'dev' });
    }
    expect((await api(t, m, 'POST', '/groups', { name: 'readers' })).status).toBe(201);
    expect((await api(t, m, 'POST', '/groups', { name: 'admins', privileges: ['admin'] })).status).toBe(201);
    for (const [path, rights] of [
      ['/infrastructures/dev/grants/readers', ['view']],
      ['/services/alpha/grants/readers', ['read']],
      ['/services/beta/grants/readers', ['read']],
    ] as const) {
      expect((await api(t, m, 'PUT', path, { rights })).status).toBeLessThan(300);
    }
    alice = await userWithSession(t, 'alice', ['readers']);
    bob = await userWithSession(t, 'bob', ['readers']);
    root = await userWithSession(t, 'root', ['admins']);
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await drop?.();
  });

  const model = async (name: string, token: string) => {
    const res = await fetch(`${t.node.urls.inference}/${name}/predict`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    return { status: res.status, text, code: text.startsWith('{"error"') ? JSON.parse(text).error.code : undefined };
  };
  const create = async (session: string, body: Record<string, unknown>) => {
    const res = await api(t, session, 'POST', '/tokens', body);
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string; name: string };
  };

  it('create → use → list (no secret) → delete → 401 on the next request, on both planes', async () => {
    const made = await create(alice, {
      name: 'laptop',
      description: 'my laptop',
      ops_access: true,
      endpoint_access: { all: true },
    });
    expect(made.token).toMatch(/^mgt_[0-9A-Za-z]{36}$/);
    expect(made.id).toMatch(/^tok_/);

    expect((await model('alpha', made.token)).status).toBe(200);
    expect(up.hits.at(-1)?.headers['x-modelgate-principal']).toBe(`api_token:${made.id}`);
    const who = await api(t, made.token, 'GET', '/whoami');
    expect(who.body).toMatchObject({ kind: 'user', user: 'alice', token: made.id });

    const listed = await api(t, alice, 'GET', '/tokens');
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(made.token);
    const row = listed.body.tokens.find((r: { id: string }) => r.id === made.id);
    expect(row).toMatchObject({
      name: 'laptop',
      description: 'my laptop',
      user: 'alice',
      prefix: made.token.slice(0, 8),
      ops_access: true,
      endpoint_access: { all: true },
      last_used_at: null,
    });
    expect(row).not.toHaveProperty('token');
    expect(Date.parse(row.expires_at)).toBeGreaterThan(Date.parse(row.created_at));

    expect((await api(t, alice, 'DELETE', `/tokens/${made.id}`)).status).toBe(204);
    const after = await model('alpha', made.token);
    expect(after.status).toBe(401);
    expect(after.code).toBe('CREDENTIAL_UNKNOWN');
    expect((await api(t, made.token, 'GET', '/whoami')).status).toBe(401);
    expect((await api(t, alice, 'GET', '/tokens')).body.tokens.map((r: { id: string }) => r.id)).not.toContain(made.id);
  });

  it('the token is shown once and stored only as its SHA-256 hash', async () => {
    const made = await create(alice, { name: 'hashed', ops_access: true });
    const row = await t.node.store.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', made.id)
      .executeTakeFirstOrThrow();
    expect(row.hash).toBe(createHash('sha256').update(made.token, 'utf8').digest('hex'));
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(made.token);
    expect(stored).not.toContain(made.token.slice(4)); // not even without its prefix
    // The list never shows it again.
    expect((await api(t, alice, 'GET', '/tokens')).text).not.toContain(made.token);
  });

  it('every combination of access types: in the list, outside it, not readable by the owner, management API', async () => {
    const tokens = {
      ops: await create(alice, { name: 'ops-only', ops_access: true }),
      all: await create(alice, { name: 'endpoint-all', endpoint_access: { all: true } }),
      list: await create(alice, {
        name: 'endpoint-list',
        ops_access: false,
        endpoint_access: { deployments: ['alpha'] },
      }),
      both: await create(alice, { name: 'both', ops_access: true, endpoint_access: { deployments: ['alpha'] } }),
    };
    const expected: Record<keyof typeof tokens, [number, number, number, number]> = {
      //    alpha (listed), beta (readable, not listed), hidden (owner may not read), management
      ops: [403, 403, 403, 200],
      all: [200, 200, 403, 403],
      list: [200, 403, 403, 403],
      both: [200, 403, 403, 200],
    };
    for (const [kind, made] of Object.entries(tokens) as [keyof typeof tokens, { token: string }][]) {
      const got = [
        (await model('alpha', made.token)).status,
        (await model('beta', made.token)).status,
        (await model('hidden', made.token)).status,
        (await api(t, made.token, 'GET', '/whoami')).status,
      ];
      expect(got, kind).toEqual(expected[kind]);
    }
    const refused = await api(t, tokens.all.token, 'GET', '/deployments');
    expect(refused.body.error.code).toBe('FORBIDDEN');
    expect((await model('beta', tokens.list.token)).code).toBe('FORBIDDEN');
    // An ops token acts with the owner's permissions, no more: alice cannot read `hidden`.
    expect((await api(t, tokens.ops.token, 'GET', '/deployments/hidden')).status).toBe(404);
    expect((await api(t, tokens.ops.token, 'GET', '/deployments/alpha')).status).toBe(200);
    // issue 12: an ops token issues platform JWTs for what its owner may read.
    const jwt = await api(t, tokens.ops.token, 'GET', '/issue-jwt?deployment=alpha');
    expect(jwt.status, jwt.text).toBe(200);
    expect((await api(t, tokens.list.token, 'GET', '/issue-jwt?deployment=alpha')).status).toBe(403);
  });

  it('a deployment the creator may not read cannot be listed: the same 404 as a missing one', async () => {
    const hidden = await api(t, alice, 'POST', '/tokens', { name: 'h', endpoint_access: { deployments: ['hidden'] } });
    const missing = await api(t, alice, 'POST', '/tokens', { name: 'h', endpoint_access: { deployments: ['nope'] } });
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(hidden.body.error.code).toBe(missing.body.error.code);
  });

  it("the owner's permission changes, disabling and deleting are in force on the next request", async () => {
    const m = t.keys.management;
    expect(
      (
        await api(t, m, 'POST', '/users', {
          username: 'carol',
          password: 'correct horse battery staple carol',
          groups: ['readers'],
        })
      ).status,
    ).toBe(201);
    const carol = (
      await api(t, undefined, 'POST', '/sessions', {
        username: 'carol',
        password: 'correct horse battery staple carol',
      })
    ).body.token;
    const made = await create(carol, { name: 'svc', endpoint_access: { all: true } });
    expect((await model('alpha', made.token)).status).toBe(200); // cached from here on

    expect((await api(t, m, 'DELETE', '/groups/readers/members/carol')).status).toBeLessThan(300);
    expect((await model('alpha', made.token)).status).toBe(403);
    expect((await api(t, m, 'PUT', '/groups/readers/members/carol')).status).toBeLessThan(300);
    expect((await model('alpha', made.token)).status).toBe(200);

    expect((await api(t, m, 'PUT', '/services/alpha/grants/readers', { rights: ['write'] })).status).toBeLessThan(300);
    expect((await model('alpha', made.token)).status).toBe(200); // write includes read
    expect((await api(t, m, 'DELETE', '/services/alpha/grants/readers')).status).toBeLessThan(300);
    expect((await model('alpha', made.token)).status).toBe(403);
    expect((await api(t, m, 'PUT', '/services/alpha/grants/readers', { rights: ['read'] })).status).toBeLessThan(300);
    expect((await model('alpha', made.token)).status).toBe(200);

    expect((await api(t, m, 'POST', '/users/carol/disable')).status).toBe(200);
    const disabled = await model('alpha', made.token);
    expect(disabled.status).toBe(401);
    expect(disabled.code).toBe('CREDENTIAL_REVOKED');
    expect((await api(t, m, 'POST', '/users/carol/enable')).status).toBe(200);
    expect((await model('alpha', made.token)).status).toBe(200);

    expect((await api(t, m, 'DELETE', '/users/carol')).status).toBe(204);
    expect((await model('alpha', made.token)).status).toBe(401);
  });

  it('an expired token is refused with 401 CREDENTIAL_EXPIRED on both planes', async () => {
    const expiresAt = new Date(clock.now() + 60_000).toISOString();
    const made = await create(alice, {
      name: 'short',
      ops_access: true,
      endpoint_access: { all: true },
      expires_at: expiresAt,
    });
    expect((await model('alpha', made.token)).status).toBe(200); // valid, and cached
    expect((await api(t, made.token, 'GET', '/whoami')).status).toBe(200);
    // The node's clock moves past expires_at instead of the test waiting for it.
    clock.at(Date.parse(expiresAt) + 1000);
    const data = await model('alpha', made.token);
    expect(data.status).toBe(401);
    expect(data.code).toBe('CREDENTIAL_EXPIRED');
    const mgmt = await api(t, made.token, 'GET', '/whoami');
    expect(mgmt.status).toBe(401);
    expect(mgmt.body.error.code).toBe('CREDENTIAL_EXPIRED');
  });

  it('admins list and revoke anyone’s tokens; others can neither list nor revoke them', async () => {
    const made = await create(alice, { name: 'victim', endpoint_access: { all: true } });
    const bobs = await create(bob, { name: 'bobs', endpoint_access: { all: true } });

    const byUser = await api(t, root, 'GET', '/tokens?user=alice');
    expect(byUser.status).toBe(200);
    expect(byUser.body.tokens.map((r: { id: string }) => r.id)).toContain(made.id);
    expect(byUser.body.tokens.every((r: { user: string }) => r.user === 'alice')).toBe(true);
    const all = (await api(t, root, 'GET', '/tokens?all=true')).body.tokens.map((r: { id: string }) => r.id);
    expect(all).toEqual(expect.arrayContaining([made.id, bobs.id]));
    expect((await api(t, t.keys.management, 'GET', '/tokens')).body.tokens.map((r: { id: string }) => r.id)).toEqual(
      expect.arrayContaining([made.id, bobs.id]),
    );

    // Bob sees only his own.
    const own = (await api(t, bob, 'GET', '/tokens')).body.tokens.map((r: { id: string }) => r.id);
    expect(own).toContain(bobs.id);
    expect(own).not.toContain(made.id);
    for (const query of ['?user=alice', '?all=true']) {
      const res = await api(t, bob, 'GET', `/tokens${query}`);
      expect(res.status, query).toBe(403);
      expect(res.body.error.code).toBe('MISSING_GLOBAL_ADMIN');
    }
    const foreign = await api(t, bob, 'DELETE', `/tokens/${made.id}`);
    const unknown = await api(t, bob, 'DELETE', '/tokens/tok_doesnotexist00');
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe(unknown.body.error.code);
    expect((await model('alpha', made.token)).status).toBe(200);

    expect((await api(t, root, 'DELETE', `/tokens/${made.id}`)).status).toBe(204);
    expect((await model('alpha', made.token)).status).toBe(401);
  });

  it('lists in pages with limit and cursor', async () => {
    for (const name of ['page-1', 'page-2', 'page-3']) await create(bob, { name, endpoint_access: { all: true } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(t, bob, 'GET', `/tokens?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, res.text).toBe(200);
      expect(res.body.tokens.length).toBeLessThanOrEqual(2);
      // The last page has no cursor: a walk never ends on an empty page.
      expect(res.body.tokens.length).toBeGreaterThan(0);
      seen.push(...res.body.tokens.map((r: { name: string }) => r.name));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(expect.arrayContaining(['page-1', 'page-2', 'page-3']));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await api(t, bob, 'GET', '/tokens?cursor=garbage')).body.error.code).toBe('VALIDATION_FAILED');
    // A cursor of another list is refused too, naming the field.
    const deploymentsCursor = (await api(t, t.keys.management, 'GET', '/deployments?limit=1')).body.next_cursor;
    const foreign = await api(t, bob, 'GET', `/tokens?cursor=${encodeURIComponent(deploymentsCursor)}`);
    expect(foreign.status).toBe(400);
    expect(foreign.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'cursor' });
  });

  it('refuses bad input with stable codes', async () => {
    const none = await api(t, alice, 'POST', '/tokens', { name: 'nothing', ops_access: false });
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('TOKEN_ACCESS_REQUIRED');
    expect(none.body.error.details).toEqual(['ops_access', 'endpoint_access']);
    const far = new Date(Date.now() + 400 * 86_400_000).toISOString();
    const tooLong = await api(t, alice, 'POST', '/tokens', { name: 'far', ops_access: true, expires_at: far });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.message).toContain('api_token_max_ttl_s');
    for (const endpoint_access of [
      { all: false },
      { deployments: [] },
      { deployments: ['../x'] },
      'all',
      { all: true, deployments: ['alpha'] },
    ]) {
      const res = await api(t, alice, 'POST', '/tokens', { name: 'bad', endpoint_access });
      expect(res.status, JSON.stringify(endpoint_access)).toBe(400);
    }
    const past = await api(t, alice, 'POST', '/tokens', {
      name: 'past',
      ops_access: true,
      expires_at: '2001-01-01T00:00:00Z',
    });
    expect(past.body.error.code).toBe('VALIDATION_FAILED');
    await create(alice, { name: 'twice', ops_access: true });
    expect((await api(t, alice, 'POST', '/tokens', { name: 'twice', ops_access: true })).status).toBe(409);
    // Keys are not users: they cannot own a token.
    const byKey = await api(t, t.keys.management, 'POST', '/tokens', { name: 'key', ops_access: true });
    expect(byKey.status).toBe(403);
    expect(byKey.body.error.code).toBe('USER_REQUIRED');
  });

  it('malformed or bad-checksum tokens are refused before any lookup; a token in a URL is not echoed', async () => {
    const real = generateCredential('api_token');
    const flipped = withBrokenChecksum(real);
    for (const bad of [flipped, 'mgt_short', `${real}x`]) {
      const data = await model('alpha', bad);
      expect(data.status).toBe(401);
      expect(data.code).toBe('CREDENTIAL_MALFORMED');
      const mgmt = await api(t, bad, 'GET', '/whoami');
      expect(mgmt.body.error.code).toBe('CREDENTIAL_MALFORMED');
    }
    const made = await create(alice, { name: 'pasted', ops_access: true });
    const pasted = await api(t, alice, 'DELETE', `/tokens/${made.token}`, undefined, {
      'x-request-id': 'pasted-token',
    });
    expect(pasted.status).toBe(404);
    expect(pasted.text).not.toContain(made.token);
    const rows = await waitForAudit(t, 'action=token.delete', (r) => r.some((x) => x.request_id === 'pasted-token'));
    expect(rows.find((r) => r.request_id === 'pasted-token')?.target_name).toBe('[invalid]');
    expect(JSON.stringify(rows)).not.toContain(made.token);
  });

  it('token create and delete are audited with the token name and id', async () => {
    const made = await create(bob, { name: 'audited', endpoint_access: { all: true } });
    expect((await api(t, bob, 'DELETE', `/tokens/${made.id}`)).status).toBe(204);
    const created = await waitForAudit(t, 'action=token.create', (rows) =>
      rows.some((r) => r.target_name === 'audited'),
    );
    expect(created.find((r) => r.target_name === 'audited')).toMatchObject({
      actor_kind: 'user',
      outcome: 'allowed',
      status: 201,
    });
    const deleted = await waitForAudit(t, 'action=token.delete', (rows) => rows.some((r) => r.target_name === made.id));
    expect(deleted.find((r) => r.target_name === made.id)).toMatchObject({ outcome: 'allowed', status: 204 });
  });
});

describe('the node-wide maximum lifetime of API tokens (api_token_max_ttl_s)', () => {
  let t: TestNode;
  let dana: string;
  beforeAll(async () => {
    // A node whose operator allows tokens of at most one hour (and a default longer than that).
    t = await startTestNode({ api_token_max_ttl_s: '3600', api_token_default_ttl_s: '86400' });
    dana = await userWithSession(t, 'dana');
  });
  afterAll(() => t?.close());

  it('caps the default expiry at the maximum, accepts an expiry within it, refuses one beyond it', async () => {
    const before = Date.now();
    const capped = await api(t, dana, 'POST', '/tokens', { name: 'default', ops_access: true });
    expect(capped.status, capped.text).toBe(201);
    const expires = Date.parse(capped.body.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000);

    const within = new Date(Date.now() + 30 * 60_000).toISOString();
    const ok = await api(t, dana, 'POST', '/tokens', { name: 'half-hour', ops_access: true, expires_at: within });
    expect(ok.status, ok.text).toBe(201);
    expect(Date.parse(ok.body.expires_at)).toBe(Date.parse(within));

    const beyond = new Date(Date.now() + 2 * 3600_000).toISOString();
    const far = await api(t, dana, 'POST', '/tokens', { name: 'two-hours', ops_access: true, expires_at: beyond });
    expect(far.status).toBe(400);
    expect(far.body.error.code).toBe('VALIDATION_FAILED');
    expect(far.body.error.message).toMatch(/at most 3600 seconds.*api_token_max_ttl_s/);
    expect((await api(t, dana, 'GET', '/tokens')).body.tokens.map((r: { name: string }) => r.name)).toEqual([
      'default',
      'half-hour',
    ]);
  });
});
