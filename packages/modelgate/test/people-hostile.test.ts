import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { withBrokenChecksum } from './helpers/credentials.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn, userWithSession } from './helpers/people.js';

/** Thinking like a signed-in attacker: escalation, enumeration, forged sessions, leaks. */
let t: TestNode;
let mallory: string;

beforeAll(async () => {
  t = await startTestNode();
  const m = t.keys.management;
  await api(t, m, 'POST', '/groups', { name: 'admins', privileges: ['admin'] });
  await api(t, m, 'POST', '/groups', { name: 'svc-admins' });
  await api(t, m, 'POST', '/infrastructures', { name: 'prod' });
  await api(t, m, 'POST', '/services', { name: 'owned-by-team' });
  await api(t, m, 'PUT', '/services/owned-by-team/grants/svc-admins', { rights: ['admin'] });
  await api(t, m, 'POST', '/deployments', {
    name: 'crown-jewels',
    service: 'owned-by-team',
    infrastructure: 'prod',
    upstream: 'http://127.0.0.1:9/',
    api_keys: 1,
  });
  await api(t, m, 'POST', '/secrets', { name: 'db-password', value: 'hunter2-but-longer' });
  mallory = await userWithSession(t, 'mallory', ['svc-admins']);
});
afterAll(() => t?.close());

describe('no escalation', () => {
  it('cannot create users, join the admins group, grant itself privileges or set another password', async () => {
    for (const [method, path, body] of [
      ['POST', '/users', { username: 'sock', password: `${GOOD_PASSWORD} sock` }],
      ['PUT', '/groups/admins/members/mallory', undefined],
      ['PATCH', '/groups/svc-admins', { privileges: ['admin'] }],
      ['POST', '/groups', { name: 'mine', privileges: ['admin'] }],
      ['POST', '/infrastructures', { name: 'shadow' }],
      ['GET', '/users', undefined],
    ] as const) {
      const res = await api(t, mallory, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('MISSING_GLOBAL_ADMIN');
    }
    await api(t, t.keys.management, 'POST', '/users', { username: 'victim', password: `${GOOD_PASSWORD} v` });
    const other = await api(t, mallory, 'PUT', '/users/victim/password', { password: `${GOOD_PASSWORD} pwned` });
    expect(other.status).toBe(403);
    const me = await api(t, mallory, 'GET', '/whoami');
    expect(me.body.privileges).toEqual([]);
    expect((await api(t, t.keys.management, 'GET', '/users/sock')).status).toBe(404);
  });

  it('a service admin cannot reach the infrastructure: its grants and deployments stay hidden', async () => {
    const grant = await api(t, mallory, 'PUT', '/infrastructures/prod/grants/svc-admins', { rights: ['deploy'] });
    expect(grant.status).toBe(404);
    expect((await api(t, mallory, 'GET', '/deployments/crown-jewels')).status).toBe(404);
    expect((await api(t, mallory, 'POST', '/deployments/crown-jewels/disable')).status).toBe(404);
    const deployed = await api(t, mallory, 'GET', '/deployments');
    expect(deployed.text).not.toContain('crown-jewels');
    const keys = await api(t, mallory, 'GET', '/api-keys');
    expect(keys.body.api_keys).toEqual([]);
    const id = (await api(t, t.keys.management, 'GET', '/api-keys?deployment=crown-jewels')).body.api_keys[0].id;
    const reveal = await api(t, mallory, 'GET', `/api-keys/${id}/reveal`);
    expect(reveal.status).toBe(404);
    expect(reveal.text).not.toContain('mgk_');
  });

  it('never sees a secret it holds no right on, and cannot replace or delete it', async () => {
    expect((await api(t, mallory, 'GET', '/secrets')).text).not.toContain('db-password');
    expect((await api(t, mallory, 'PUT', '/secrets/db-password', { value: 'attacker value 1' })).status).toBe(404);
    expect((await api(t, mallory, 'DELETE', '/secrets/db-password')).status).toBe(404);
    expect((await api(t, mallory, 'GET', '/secrets/db-password/grants')).status).toBe(404);
  });

  it('a password change ends the other sessions of the user', async () => {
    const password = `${GOOD_PASSWORD} rotating`;
    await api(t, t.keys.management, 'POST', '/users', { username: 'rotator', password });
    const first = await signIn(t, 'rotator', password);
    const second = await signIn(t, 'rotator', password);
    const changed = await api(t, first, 'PUT', '/users/rotator/password', {
      password: `${GOOD_PASSWORD} rotated`,
      current_password: password,
    });
    expect(changed.status).toBe(204);
    expect((await api(t, first, 'GET', '/whoami')).status).toBe(200);
    expect((await api(t, second, 'GET', '/whoami')).status).toBe(401);
  });
});

describe('forged and stolen sessions', () => {
  it('refuses a bad-checksum or unknown session, as a bearer or a cookie, without echoing it', async () => {
    const unknown = generateCredential('user_session');
    const broken = withBrokenChecksum(unknown);
    for (const token of [unknown, broken]) {
      const bearer = await api(t, token, 'GET', '/whoami');
      const cookie = await api(t, undefined, 'GET', '/whoami', undefined, { cookie: `modelgate_session=${token}` });
      for (const res of [bearer, cookie]) {
        expect(res.status).toBe(401);
        expect(res.text).not.toContain(token);
      }
    }
    const notASession = await api(t, undefined, 'GET', '/whoami', undefined, {
      cookie: `modelgate_session=${t.keys.management}`,
    });
    expect(notASession.status).toBe(401);
  });

  it('a session of a deleted user stops at once, and sessions never open the data plane', async () => {
    const token = await userWithSession(t, 'ghost');
    const res = await fetch(`${t.node.urls.inference}/crown-jewels/`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(401);
    await res.arrayBuffer();
    await api(t, t.keys.management, 'DELETE', '/users/ghost');
    expect((await api(t, token, 'GET', '/whoami')).status).toBe(401);
  });

  it('never puts a password, session or hash in an answer', async () => {
    const password = `${GOOD_PASSWORD} leakcheck`;
    const made = await api(t, t.keys.management, 'POST', '/users', { username: 'leak', password });
    const signed = await api(t, undefined, 'POST', '/sessions', { username: 'leak', password });
    const token = signed.body.token as string;
    for (const res of [
      made,
      await api(t, t.keys.management, 'GET', '/users'),
      await api(t, t.keys.management, 'GET', '/users/leak'),
      await api(t, token, 'GET', '/whoami'),
      await api(t, undefined, 'POST', '/sessions', { username: 'leak', password: `${password}x` }),
    ]) {
      expect(res.text).not.toContain(password);
      expect(res.text).not.toContain(token);
      expect(res.text).not.toContain('scrypt$');
    }
  });
});

describe('deleting what is referenced (docs/decisions.md)', () => {
  it('a deleted group takes its grants and memberships along; a deleted owner leaves its service', async () => {
    const m = t.keys.management;
    await api(t, m, 'POST', '/groups', { name: 'temp-team' });
    await api(t, m, 'POST', '/groups', { name: 'makers2', privileges: ['create_service'] });
    await api(t, m, 'POST', '/services', { name: 'temp-svc' });
    await api(t, m, 'PUT', '/services/temp-svc/grants/temp-team', { rights: ['read'] });
    const token = await userWithSession(t, 'temp-user', ['temp-team', 'makers2']);
    expect((await api(t, token, 'GET', '/services/temp-svc')).status).toBe(200);
    expect((await api(t, token, 'POST', '/services', { name: 'left-behind' })).status).toBe(201);

    expect((await api(t, m, 'DELETE', '/groups/temp-team')).status).toBe(204);
    expect((await api(t, token, 'GET', '/services/temp-svc')).status).toBe(404);
    expect((await api(t, m, 'GET', '/services/temp-svc/grants')).body).toEqual({
      owner: null,
      grants: [],
      next_cursor: null,
      caller_may_change: true,
    });
    expect((await api(t, m, 'GET', '/users/temp-user')).body.groups).toEqual(['makers2']);

    expect((await api(t, m, 'GET', '/services/left-behind/grants')).body.owner).toBe('temp-user');
    expect((await api(t, m, 'DELETE', '/users/temp-user')).status).toBe(204);
    expect((await api(t, m, 'GET', '/services/left-behind/grants')).body.owner).toBeNull();
    expect((await api(t, token, 'GET', '/whoami')).status).toBe(401);
  });

  it('an infrastructure in use is refused naming the deployment', async () => {
    const res = await api(t, t.keys.management, 'DELETE', '/infrastructures/prod');
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('RESOURCE_IN_USE');
    expect(res.body.error.message).toContain('crown-jewels');
  });
});
