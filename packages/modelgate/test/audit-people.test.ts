import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPage, recordsOf } from './helpers/audit.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';

/**
 * Issue 8 × X4: people in the audit log. Users act under their own id; only global admins
 * (keys, or users with `admin`) read the log; a target hidden from a user (404, the same answer
 * as a missing name) is on record as a denied attempt (a user's miss is decided by permissions first, so it is one too), and a
 * key's plain miss is not.
 */
describe.each(STORE_BACKENDS)('audit log and people on $name', ({ setup }) => {
  let t: TestNode;
  let alice: string; // member of a group with the global admin privilege
  let bob: string; // no privileges, no grants
  let bobId: string;
  let drop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const backend = await setup();
    drop = backend.drop;
    t = await startTestNode(backend.overrides);
    expect(
      (await api(t, t.keys.management, 'POST', '/groups', { name: 'auditors', privileges: ['admin'] })).status,
    ).toBe(201);
    alice = await userWithSession(t, 'alice', ['auditors']);
    bob = await userWithSession(t, 'bob');
    bobId = (await api(t, bob, 'GET', '/whoami')).body.id;
    expect(bobId).toBeTruthy();
    expect((await api(t, t.keys.management, 'POST', '/infrastructures', { name: 'vault-infra' })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    await drop();
  });

  it('a user with the admin privilege reads the audit log; a user without gets 403 naming the right', async () => {
    expect((await auditPage(t, 'limit=5', alice)).status).toBe(200);
    const refused = await auditPage(t, 'limit=5', bob);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('MISSING_GLOBAL_ADMIN');
  });

  it('a user’s change is recorded under the user, and a hidden target is a denied attempt', async () => {
    const made = await api(t, alice, 'POST', '/infrastructures', { name: 'by-alice' }, { 'x-request-id': 'ap-made' });
    expect(made.status).toBe(201);
    const [record] = await recordsOf(t, 'ap-made');
    expect(record).toMatchObject({ actor_kind: 'user', outcome: 'allowed', action: 'infrastructure.create' });

    // Hidden from bob: the answer is the plain 404 of a missing name...
    const hidden = await api(t, bob, 'GET', '/infrastructures/vault-infra', undefined, { 'x-request-id': 'ap-hidden' });
    const missing = await api(t, bob, 'GET', '/infrastructures/no-such-infra', undefined, {
      'x-request-id': 'ap-missing',
    });
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(hidden.body.error.code).toBe(missing.body.error.code);
    // ...but the log knows it was a denied look at something that exists.
    const [denied] = await recordsOf(t, 'ap-hidden');
    expect(denied).toMatchObject({ actor: bobId, actor_kind: 'user', outcome: 'denied', status: 404 });
    // A key sees everything, so its miss is a plain miss: not audit material.
    const keyMiss = await api(t, t.keys.management, 'GET', '/infrastructures/no-such-infra', undefined, {
      'x-request-id': 'ap-key-miss',
    });
    expect(keyMiss.status).toBe(404);
    await recordsOf(t, 'ap-missing'); // the user's miss is decided by permissions first: denied too
    // Records are queued in order: once a later one is written, the key's miss would be too.
    await api(t, bob, 'GET', '/infrastructures/vault-infra', undefined, { 'x-request-id': 'ap-after' });
    await recordsOf(t, 'ap-after');
    const all = await auditPage(t, 'limit=1000', alice);
    expect(all.body.records.some((r: { request_id: string }) => r.request_id === 'ap-key-miss')).toBe(false);
  });
});
