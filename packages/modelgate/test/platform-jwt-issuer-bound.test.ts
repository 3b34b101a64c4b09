import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { authorizeProof } from '../src/dataplane/authorize.js';
import { IssuerRights } from '../src/dataplane/issuer-rights.js';
import { PlatformJwtVerifier } from '../src/dataplane/verifiers/platform-jwt.js';
import type { DeploymentSnapshot } from '../src/kernel/deployment-snapshot.js';
import { createLocalBus } from '../src/kernel/event-bus.js';
import { PendingCheck } from '../src/kernel/pending-check.js';
import { TOPICS } from '../src/kernel/topics.js';
import { createAdminKey } from '../src/keys/admin-keys.js';
import { SigningKeyRing } from '../src/keys/signing-keys.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { call } from './helpers/http.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';
import { closed, echo, openRelay } from './helpers/relays.js';
import { type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * Issue 17, defect 2: a platform JWT a user issued never opens more than that user may read now
 * (service read ∧ infrastructure view, as the management API decides), and nothing once the user
 * is disabled or deleted; a token a key issued opens what its scope says. Open WebSocket relays
 * are decided again when the issuer's access changes. Real node, real sockets.
 */
describe.each(STORE_BACKENDS)('platform JWTs bounded by their issuer on $name', (backend) => {
  let t: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  const sockets: WebSocket[] = [];
  let counter = 0;

  beforeAll(async () => {
    const store = await backend.setup();
    drop = store.drop;
    t = await startTestNode({ ...store.overrides, failure_limit: '100000' });
    up = await websocketUpstream();
    const m = t.keys.management;
    expect((await api(t, m, 'POST', '/infrastructures', { name: 'prod' })).status).toBe(201);
    for (const service of ['visible', 'hidden']) {
      expect((await api(t, m, 'POST', '/services', { name: service })).status).toBe(201);
      await deploy(t, { name: service, service, infrastructure: 'prod', upstream: up.url, access: 'protected' });
    }
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.terminate();
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await drop?.();
  });

  const model = (deployment: string, token: string) =>
    call(`${t.node.urls.inference}/${deployment}/predict`, { headers: { authorization: `Bearer ${token}` } });
  const grant = async (path: string, rights: string[]) =>
    expect((await api(t, t.keys.management, 'PUT', path, { rights })).status).toBe(200);

  /** A user in a fresh group of its own with view on `prod` (and read on `visible` if asked). */
  async function viewer(readVisible: boolean): Promise<{ name: string; group: string; session: string }> {
    const name = `jib-${counter++}`;
    const group = `${name}-g`;
    expect((await api(t, t.keys.management, 'POST', '/groups', { name: group })).status).toBe(201);
    await grant(`/infrastructures/prod/grants/${group}`, ['view']);
    if (readVisible) await grant(`/services/visible/grants/${group}`, ['read']);
    return { name, group, session: await userWithSession(t, name, [group]) };
  }
  const infraJwt = async (credential: string) => {
    const res = await api(t, credential, 'GET', '/issue-jwt?infrastructure=prod');
    expect(res.status, res.text).toBe(200);
    return res.body.token as string;
  };

  it('the reported case: view on the infrastructure, no read on the service: 403 on the data plane, as the API hides it', async () => {
    const v = await viewer(false);
    const token = await infraJwt(v.session);
    for (const deployment of ['visible', 'hidden']) {
      const res = await model(deployment, token);
      expect(res.status, deployment).toBe(403);
      expect(res.json.error.code).toBe('FORBIDDEN');
      expect(res.json.error.message).toContain('may not read this deployment');
      expect((await api(t, v.session, 'GET', `/deployments/${deployment}`)).status).toBe(404);
    }
    expect(up.hits).toHaveLength(0);
    // A deployment token for it cannot be issued either: the same 404 as for a missing name.
    expect((await api(t, v.session, 'GET', '/issue-jwt?deployment=visible')).status).toBe(404);
  });

  it('the issuer’s rights now, both ways: a read granted opens the same token at once, revoked closes it at once', async () => {
    const v = await viewer(false);
    const token = await infraJwt(v.session);
    expect((await model('visible', token)).status).toBe(403); // decided, and the token cached
    await grant(`/services/visible/grants/${v.group}`, ['read']);
    expect((await model('visible', token)).status).toBe(200);
    expect((await model('hidden', token)).status).toBe(403);
    expect((await api(t, t.keys.management, 'DELETE', `/services/visible/grants/${v.group}`)).status).toBe(204);
    expect((await model('visible', token)).status).toBe(403);
  });

  it('an issuer disabled is refused (401 CREDENTIAL_REVOKED) at once, enabled again is its rights again; deleted is refused for good', async () => {
    const v = await viewer(true);
    const infra = await infraJwt(v.session);
    const dep = (await api(t, v.session, 'GET', '/issue-jwt?deployment=visible')).body.token as string;
    for (const token of [infra, dep]) expect((await model('visible', token)).status).toBe(200);
    expect((await api(t, t.keys.management, 'POST', `/users/${v.name}/disable`)).status).toBe(200);
    for (const token of [infra, dep]) {
      const res = await model('visible', token);
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('CREDENTIAL_REVOKED');
    }
    expect((await api(t, t.keys.management, 'POST', `/users/${v.name}/enable`)).status).toBe(200);
    expect((await model('visible', dep)).status).toBe(200);
    expect((await api(t, t.keys.management, 'DELETE', `/users/${v.name}`)).status).toBe(204);
    for (const token of [infra, dep]) expect((await model('visible', token)).status).toBe(401);
  });

  it('a group given the admin privilege opens every deployment of the infrastructure, like the API; deleting the group closes them', async () => {
    const v = await viewer(false);
    const token = await infraJwt(v.session);
    expect((await model('hidden', token)).status).toBe(403);
    const m = t.keys.management;
    expect((await api(t, m, 'POST', '/groups', { name: `${v.name}-admins`, privileges: ['admin'] })).status).toBe(201);
    expect((await api(t, m, 'PUT', `/groups/${v.name}-admins/members/${v.name}`)).status).toBe(200);
    expect((await api(t, v.session, 'GET', '/deployments/hidden')).status).toBe(200);
    expect((await model('hidden', token)).status).toBe(200);
    expect((await api(t, m, 'DELETE', `/groups/${v.name}-admins`)).status).toBe(204);
    expect((await model('hidden', token)).status).toBe(403);
  });

  it('tokens issued by the management key or an admin key open what their scope says, whatever changes for people', async () => {
    const adminKey = (await createAdminKey(t.node.store, 'issuer-bound test')).key;
    const tokens = [await infraJwt(t.keys.management), await infraJwt(adminKey)];
    const v = await viewer(true);
    // A change for everyone (`access.changed` *): key-issued tokens are not affected.
    expect((await api(t, t.keys.management, 'DELETE', `/services/visible/grants/${v.group}`)).status).toBe(204);
    for (const token of tokens) {
      for (const deployment of ['visible', 'hidden']) expect((await model(deployment, token)).status).toBe(200);
    }
  });

  /** Opens a relay to `deployment`; rejects when the handshake is refused. */
  const open = (deployment: string, token: string) =>
    openRelay(`${t.node.urls.inference.replace('http', 'ws')}/${deployment}/socket`, token, sockets);

  it('an open WebSocket relay of a user-issued JWT closes when its issuer loses read; others stay open', async () => {
    const leaving = await viewer(true);
    const staying = await viewer(true);
    const cut = await open('visible', await infraJwt(leaving.session));
    const kept = await open('visible', await infraJwt(staying.session));
    const keyed = await open('visible', await infraJwt(t.keys.management));
    expect(await echo(cut, 'before')).toBe('echo:before');
    // The handshake is refused outright for a user who may not read the deployment.
    await expect(open('hidden', await infraJwt(staying.session))).rejects.toThrow(/403/);

    expect((await api(t, t.keys.management, 'DELETE', `/groups/${leaving.group}/members/${leaving.name}`)).status).toBe(
      204,
    );
    await closed(cut);
    expect(await echo(kept, 'kept')).toBe('echo:kept');
    expect(await echo(keyed, 'key')).toBe('echo:key');
    // Disabling the other issuer closes theirs too; the key's relay stays.
    expect((await api(t, t.keys.management, 'POST', `/users/${staying.name}/disable`)).status).toBe(200);
    await closed(kept);
    expect(await echo(keyed, 'still')).toBe('echo:still');
  });
});

/**
 * The hot path: a known token from a user is decided from memory (the verifier answers a
 * principal, not a `PendingCheck`, the only way to the store), and `access.changed` for its
 * issuer sends it back to the store once. The node's store, a verifier and key ring of our own.
 */
describe('a user-issued platform JWT on the hot path', () => {
  let t: TestNode;
  const masterKey = randomBytes(32);

  beforeAll(async () => {
    t = await startTestNode({}, { MODELGATE_MASTER_KEY: masterKey.toString('hex') });
    const m = t.keys.management;
    await deploy(t, { name: 'hot', upstream: 'http://127.0.0.1:9/', access: 'protected', infrastructure: 'dev' });
    expect((await api(t, m, 'POST', '/groups', { name: 'hot-readers' })).status).toBe(201);
    await api(t, m, 'PUT', '/infrastructures/dev/grants/hot-readers', { rights: ['view'] });
    await api(t, m, 'PUT', '/services/hot/grants/hot-readers', { rights: ['read'] });
  });
  afterAll(() => t?.close());

  it('decides a known token with no store I/O, and asks again after its issuer’s access changed', async () => {
    const session = await userWithSession(t, 'hot-user', ['hot-readers']);
    const token = (await api(t, session, 'GET', '/issue-jwt?infrastructure=dev')).body.token as string;
    const userId = (await api(t, session, 'GET', '/whoami')).body.id as string;
    const bus = createLocalBus();
    const keys = new SigningKeyRing(t.node.store, masterKey, { algorithm: 'Ed25519', maxTtlS: 86_400 }, bus);
    await keys.start();
    const verifier = new PlatformJwtVerifier(
      t.node.store,
      keys,
      { issuer: 'modelgate', clockSkewS: 30, maxTtlS: 86_400 },
      bus,
    );
    await verifier.start();
    const target = (await t.node.store.db
      .selectFrom('deployments')
      .select(['id', 'name', 'infrastructure_id', 'service_id'])
      .where('name', '=', 'hot')
      .executeTakeFirstOrThrow()) as unknown as DeploymentSnapshot;
    // The verifier proves the token; `authorize` bounds it by its issuer's rights, as the gateway asks.
    const rights = new IssuerRights(t.node.store, bus);
    const check = (jwt: string) => authorizeProof(verifier.verify(jwt), target, rights);

    const first = check(token);
    expect(first).toBeInstanceOf(PendingCheck);
    expect(await (first as PendingCheck).run('client')).toMatchObject({ kind: 'platform_jwt', owner: userId });
    const known = check(token);
    expect(known).not.toBeInstanceOf(PendingCheck);
    expect(known).toMatchObject({ kind: 'platform_jwt', owner: userId });

    await bus.publish({ topic: TOPICS.accessChanged, subject: 'someone-else' });
    expect(check(token)).not.toBeInstanceOf(PendingCheck);
    await bus.publish({ topic: TOPICS.accessChanged, subject: userId });
    const again = check(token);
    expect(again).toBeInstanceOf(PendingCheck);
    expect(await (again as PendingCheck).run('client')).toMatchObject({ owner: userId });
    expect(check(token)).not.toBeInstanceOf(PendingCheck);
  });
});
