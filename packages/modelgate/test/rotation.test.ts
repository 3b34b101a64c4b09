import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from './helpers/backends.js';
import { testClock } from './helpers/clock.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Rotation with an overlap window (X2) for API tokens and API keys, on SQLite and PostgreSQL:
 * during the grace both the old and the new credential work; after it only the new one; deleting
 * either ends it at once; a credential is rolled once, even by parallel requests. Grace periods
 * are long (both must work), zero, or a minute that the node's clock is moved past (to just
 * after the `retires_at` the API answered; never a timed assertion).
 */
describe.each(STORE_BACKENDS)('rotation on $name', (backend) => {
  const clock = testClock();
  let t: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  let rita: string; // a global admin, so her tokens open `rot`
  let sam: string; // another admin: may not roll Rita's tokens

  beforeAll(async () => {
    const store = await backend.setup();
    drop = store.drop;
    t = await startTestNode({ ...store.overrides, failure_limit: '1000' }, {}, { clock: clock.now });
    up = await recordingUpstream('model');
    await deploy(t, { name: 'rot', upstream: up.url, access: 'protected', api_keys: 0 });
    expect((await api(t, t.keys.management, 'POST', '/groups', { name: 'admins', privileges: ['admin'] })).status).toBe(
      201,
    );
    rita = await userWithSession(t, 'rita', ['admins']);
    sam = await userWithSession(t, 'sam', ['admins']);
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await drop?.();
  });

  const call = async (token: string) => {
    const res = await fetch(`${t.node.urls.inference}/rot/predict`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, code: res.status >= 400 ? JSON.parse(text).error.code : undefined };
  };
  /** Moves the node's clock just past `iso` (a grace's end) instead of waiting for it. */
  const pastIt = (iso: string) => clock.at(Date.parse(iso) + 1000);
  const newToken = async (name: string) => {
    const res = await api(t, rita, 'POST', '/tokens', { name, ops_access: true, endpoint_access: { all: true } });
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string; expires_at: string; created_at: string };
  };
  const newKey = async () => {
    const res = await api(t, t.keys.management, 'POST', '/api-keys', { deployment: 'rot', description: 'svc' });
    expect(res.status, res.text).toBe(201);
    return res.body.api_keys[0] as { id: string; key: string };
  };
  const rollToken = (id: string, grace_seconds: number, as = rita) =>
    api(t, as, 'POST', `/tokens/${id}/roll`, { grace_seconds });
  const rollKey = (id: string, grace_seconds: number) =>
    api(t, t.keys.management, 'POST', `/api-keys/${id}/roll`, { grace_seconds });

  it('a rolled token: both work during the grace, both are listed with their state, deleting the old ends it', async () => {
    const old = await newToken('ci');
    expect((await call(old.token)).status).toBe(200);
    const rolled = await rollToken(old.id, 3600);
    expect(rolled.status, rolled.text).toBe(201);
    const next = rolled.body as {
      id: string;
      token: string;
      name: string;
      state: string;
      predecessor: { id: string; retires_at: string };
    };
    expect(next).toMatchObject({ name: 'ci', state: 'active', ops_access: true, endpoint_access: { all: true } });
    expect(next.predecessor.id).toBe(old.id);
    expect(next.token).not.toBe(old.token);

    expect((await call(old.token)).status).toBe(200);
    expect((await call(next.token)).status).toBe(200);
    expect((await api(t, old.token, 'GET', '/whoami')).status).toBe(200);
    expect((await api(t, next.token, 'GET', '/whoami')).status).toBe(200);

    const listed = (await api(t, rita, 'GET', '/tokens')).body.tokens.filter((r: { name: string }) => r.name === 'ci');
    expect(listed).toHaveLength(2);
    expect(listed.find((r: { id: string }) => r.id === old.id)).toMatchObject({
      state: 'retiring',
      retires_at: next.predecessor.retires_at,
    });
    expect(listed.find((r: { id: string }) => r.id === next.id)).toMatchObject({ state: 'active', retires_at: null });

    const again = await rollToken(old.id, 60);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CREDENTIAL_ALREADY_ROLLED');
    // Only the owner rolls: another admin would be handed a credential acting as Rita.
    expect((await rollToken(next.id, 60, sam)).status).toBe(404);

    expect((await api(t, rita, 'DELETE', `/tokens/${old.id}`)).status).toBe(204);
    expect((await call(old.token)).status).toBe(401);
    expect((await call(next.token)).status).toBe(200);
  });

  it('a token rolled with no grace is refused at once; with a short grace, once it has passed', async () => {
    const now = await newToken('at-once');
    expect((await call(now.token)).status).toBe(200);
    const zero = await rollToken(now.id, 0);
    expect(zero.status).toBe(201);
    const refused = await call(now.token);
    expect(refused).toEqual({ status: 401, code: 'CREDENTIAL_EXPIRED' });
    expect((await api(t, now.token, 'GET', '/whoami')).status).toBe(401);
    expect((await call(zero.body.token)).status).toBe(200);

    const soon = await newToken('short');
    const rolled = await rollToken(soon.id, 60);
    expect(rolled.status).toBe(201);
    expect((await call(soon.token)).status).toBe(200); // within the grace, and cached
    pastIt(rolled.body.predecessor.retires_at);
    expect(await call(soon.token)).toEqual({ status: 401, code: 'CREDENTIAL_EXPIRED' });
    expect((await call(rolled.body.token)).status).toBe(200);
    // The successor lives as long as the original was given, from the roll on.
    const lifetime = Date.parse(soon.expires_at) - Date.parse(soon.created_at);
    expect(Date.parse(rolled.body.expires_at) - Date.parse(rolled.body.created_at)).toBe(lifetime);
  });

  it('a rolled API key: both work during the grace, only the new one after it; deleting ends it at once', async () => {
    const old = await newKey();
    expect((await call(old.key)).status).toBe(200);
    const rolled = await rollKey(old.id, 3600);
    expect(rolled.status, rolled.text).toBe(201);
    expect(rolled.body).toMatchObject({
      deployment: 'rot',
      description: 'svc',
      state: 'active',
      predecessor: { id: old.id },
    });
    expect((await call(old.key)).status).toBe(200);
    expect((await call(rolled.body.key)).status).toBe(200);
    const listed = (await api(t, t.keys.management, 'GET', '/api-keys?deployment=rot')).body.api_keys;
    expect(listed.find((k: { id: string }) => k.id === old.id)).toMatchObject({ state: 'retiring' });
    expect((await rollKey(old.id, 10)).body.error.code).toBe('CREDENTIAL_ALREADY_ROLLED');
    // Deleting the successor ends it at once; the retiring one keeps its grace.
    expect((await api(t, t.keys.management, 'DELETE', `/api-keys/${rolled.body.id}`)).status).toBe(204);
    expect((await call(rolled.body.key)).status).toBe(401);
    expect((await call(old.key)).status).toBe(200);

    const short = await newKey();
    const shortRoll = await rollKey(short.id, 60);
    expect((await call(short.key)).status).toBe(200); // within the grace, and cached
    pastIt(shortRoll.body.predecessor.retires_at);
    expect(await call(short.key)).toEqual({ status: 401, code: 'CREDENTIAL_EXPIRED' });
    expect((await call(shortRoll.body.key)).status).toBe(200);

    const zero = await newKey();
    const zeroRoll = await rollKey(zero.id, 0);
    expect((await call(zero.key)).status).toBe(401);
    expect((await call(zeroRoll.body.key)).status).toBe(200);
  });

  it('deleting either side of a roll ends that one at once, on both planes, while the other keeps working', async () => {
    // A token: the successor deleted during the grace; the retiring one keeps its grace.
    const token = await newToken('either');
    const rolledToken = await rollToken(token.id, 3600);
    expect(rolledToken.status, rolledToken.text).toBe(201);
    expect((await call(rolledToken.body.token)).status).toBe(200); // cached from here on
    expect((await api(t, rita, 'DELETE', `/tokens/${rolledToken.body.id}`)).status).toBe(204);
    expect(await call(rolledToken.body.token)).toEqual({ status: 401, code: 'CREDENTIAL_UNKNOWN' });
    expect((await api(t, rolledToken.body.token, 'GET', '/whoami')).status).toBe(401);
    expect((await call(token.token)).status).toBe(200);
    expect((await api(t, token.token, 'GET', '/whoami')).status).toBe(200);

    // A key: the retiring one deleted during the grace; the successor is untouched.
    const key = await newKey();
    const rolledKey = await rollKey(key.id, 3600);
    expect(rolledKey.status, rolledKey.text).toBe(201);
    expect((await call(key.key)).status).toBe(200);
    expect((await api(t, t.keys.management, 'DELETE', `/api-keys/${key.id}`)).status).toBe(204);
    expect(await call(key.key)).toEqual({ status: 401, code: 'CREDENTIAL_UNKNOWN' });
    expect((await call(rolledKey.body.key)).status).toBe(200);
  });

  it('parallel rolls of one credential make exactly one successor; the others get 409', async () => {
    const token = await newToken('parallel');
    const key = await newKey();
    const tokenRolls = await Promise.all(Array.from({ length: 6 }, () => rollToken(token.id, 60)));
    const keyRolls = await Promise.all(Array.from({ length: 6 }, () => rollKey(key.id, 60)));
    for (const rolls of [tokenRolls, keyRolls]) {
      expect(rolls.filter((r) => r.status === 201)).toHaveLength(1);
      for (const r of rolls.filter((x) => x.status !== 201)) {
        expect(r.status, r.text).toBe(409);
        expect(['CREDENTIAL_ALREADY_ROLLED', 'WRITE_CONFLICT', 'RESOURCE_CONFLICT']).toContain(r.body.error.code);
      }
    }
    const named = (await api(t, rita, 'GET', '/tokens')).body.tokens.filter(
      (r: { name: string }) => r.name === 'parallel',
    );
    expect(named).toHaveLength(2);
    const keys = (await api(t, t.keys.management, 'GET', '/api-keys?deployment=rot')).body.api_keys;
    const successor = keyRolls.find((r) => r.status === 201)!.body.id;
    expect(keys.filter((k: { id: string }) => k.id === successor)).toHaveLength(1);
  });

  it('refuses a bad grace with 400', async () => {
    const token = await newToken('bad-grace');
    for (const grace_seconds of [-1, 1.5, 31 * 86_400]) {
      expect((await rollToken(token.id, grace_seconds)).status, String(grace_seconds)).toBe(400);
    }
  });
});
