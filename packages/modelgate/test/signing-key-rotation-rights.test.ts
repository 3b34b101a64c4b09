import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminKey } from '../src/keys/admin-keys.js';
import { call } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';

/**
 * Issue 17, defect 1: rotating the node's JWT signing key is a node-wide action, for global
 * admins only (users in an `admin` group, admin keys, the management key). Listing the keys
 * shows public facts only and stays open to any signed-in user (docs/security.md).
 */
let t: TestNode;
let nobody: string; // no group
let creator: string; // create_service, not admin
let admin: string; // in an admin group

const jwksKids = async (): Promise<string[]> => {
  const res = await call(`${t.node.urls.inference}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return (res.json.keys as { kid: string }[]).map((k) => k.kid).sort();
};

beforeAll(async () => {
  t = await startTestNode();
  const m = t.keys.management;
  expect((await api(t, m, 'POST', '/groups', { name: 'creators', privileges: ['create_service'] })).status).toBe(201);
  expect((await api(t, m, 'POST', '/groups', { name: 'admins', privileges: ['admin'] })).status).toBe(201);
  nobody = await userWithSession(t, 'rot-nobody');
  creator = await userWithSession(t, 'rot-creator', ['creators']);
  admin = await userWithSession(t, 'rot-admin', ['admins']);
});
afterAll(() => t?.close());

describe('POST /api/v1/signing-keys/rotate is for global admins only', () => {
  it('a user with no group or with create_service gets 403 MISSING_GLOBAL_ADMIN, and no key is added', async () => {
    const before = await jwksKids();
    const listed = (await api(t, t.keys.management, 'GET', '/signing-keys')).body.signing_keys;
    for (const [who, session] of [
      ['no group', nobody],
      ['create_service', creator],
    ] as const) {
      for (let i = 0; i < 3; i++) {
        const res = await api(t, session, 'POST', '/signing-keys/rotate');
        expect(res.status, who).toBe(403);
        expect(res.body.error.code, who).toBe('MISSING_GLOBAL_ADMIN');
        expect(res.text).not.toContain('"kid"');
      }
    }
    expect(await jwksKids()).toEqual(before);
    expect((await api(t, t.keys.management, 'GET', '/signing-keys')).body.signing_keys).toEqual(listed);
  });

  it('a refused rotation does not change the key new tokens are signed with', async () => {
    const before = (await api(t, t.keys.management, 'GET', '/signing-keys')).body.signing_keys as {
      kid: string;
      retired_at: string | null;
    }[];
    expect((await api(t, nobody, 'POST', '/signing-keys/rotate')).status).toBe(403);
    const after = (await api(t, t.keys.management, 'GET', '/signing-keys')).body.signing_keys;
    expect(after.filter((k: { retired_at: null }) => k.retired_at === null)).toEqual(
      before.filter((k) => k.retired_at === null),
    );
  });

  it('a user in an admin group, an admin key and the management key rotate', async () => {
    const adminKey = (await createAdminKey(t.node.store, 'rotation test')).key;
    const rotators = [admin, adminKey, t.keys.management];
    for (const credential of rotators) {
      const before = await jwksKids();
      const res = await api(t, credential, 'POST', '/signing-keys/rotate');
      expect(res.status, res.text).toBe(201);
      expect(before).not.toContain(res.body.kid);
      expect(await jwksKids()).toContain(res.body.kid);
    }
  });

  it('listing the signing keys (public facts) stays open to any signed-in user', async () => {
    for (const session of [nobody, creator, admin]) {
      const res = await api(t, session, 'GET', '/signing-keys');
      expect(res.status).toBe(200);
      expect(res.text).not.toMatch(/private|sealed|"d"/);
    }
    expect((await api(t, undefined, 'GET', '/signing-keys')).status).toBe(401);
  });
});
