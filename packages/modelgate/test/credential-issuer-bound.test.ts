import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from './helpers/backends.js';
import { call } from './helpers/http.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 17, structural test: every credential kind obeys "never more than its issuer now".
 *
 * Users hold each combination of rights (service read yes/no × infrastructure view yes/no), and
 * issue every kind of credential they may: an API token with endpoint access `all`, a platform
 * JWT for the deployment, a platform JWT for its infrastructure, and a management session. For
 * each, the data plane (the real gateway socket) and the management API (GET
 * /api/v1/deployments/NAME with the issuing user's session) must decide alike: 200 ↔ 200, and a
 * refusal (401/403 on the data plane) ↔ a refusal (404, or 401 once the user's sessions ended).
 * Then the rights are removed (the grant revoked, the user removed from the group, or the user
 * disabled) and, with no wait, they must still decide alike: the credential lost access at once.
 *
 * A session opens nothing on the data plane, neither as a bearer token nor as the console's
 * `modelgate_session` cookie (which the gateway strips): that is asserted for the session row.
 */

const INFRA = 'ib-infra';
/** In `ib-infra`, of the service the users may be granted read on. */
const DEPLOYMENT = 'ib-dep';
/** In `ib-infra` too, of a service nobody is granted: an infrastructure JWT must not open it. */
const OTHER = 'ib-other-dep';
const DEPLOYMENTS = [DEPLOYMENT, OTHER] as const;

interface Rights {
  readonly service: boolean;
  readonly infrastructure: boolean;
}
const COMBOS: readonly Rights[] = [
  { service: true, infrastructure: true },
  { service: true, infrastructure: false },
  { service: false, infrastructure: true },
  { service: false, infrastructure: false },
];
const REMOVALS = ['revoke the grants', 'remove from the groups', 'disable the user'] as const;
type Removal = (typeof REMOVALS)[number];

/** Credential kinds usable as a bearer on the data plane (the session is checked apart). */
const BEARER_KINDS = ['API token (endpoint access all)', 'platform JWT (deployment)', 'platform JWT (infrastructure)'];

interface Person {
  readonly name: string;
  readonly rights: Rights;
  readonly removal: Removal | undefined;
  readonly session: string;
  /** By kind; absent where issuing was refused. */
  readonly credentials: Map<string, string>;
}

const label = (rights: Rights) =>
  `service read ${rights.service ? 'yes' : 'no'} × infrastructure view ${rights.infrastructure ? 'yes' : 'no'}`;

describe.each(['sqlite', 'postgres'] as const)('every credential is bound by its issuer now, on %s', (dialect) => {
  let t: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  const people: Person[] = [];
  let counter = 0;

  const dataPlane = (deployment: string, headers: Record<string, string>) =>
    call(`${t.node.urls.inference}/${deployment}/predict`, { headers });

  /** Creates a user whose own groups hold exactly `rights`, signs in and issues what it may. */
  async function person(rights: Rights, removal: Removal | undefined): Promise<Person> {
    const m = t.keys.management;
    const name = `ib-${dialect}-${counter++}`;
    const groups: string[] = [];
    if (rights.service) {
      expect((await api(t, m, 'POST', '/groups', { name: `${name}-svc` })).status).toBe(201);
      expect((await api(t, m, 'PUT', `/services/ib-svc/grants/${name}-svc`, { rights: ['read'] })).status).toBe(200);
      groups.push(`${name}-svc`);
    }
    if (rights.infrastructure) {
      expect((await api(t, m, 'POST', '/groups', { name: `${name}-infra` })).status).toBe(201);
      const grant = await api(t, m, 'PUT', `/infrastructures/${INFRA}/grants/${name}-infra`, { rights: ['view'] });
      expect(grant.status).toBe(200);
      groups.push(`${name}-infra`);
    }
    const password = `${GOOD_PASSWORD} ${name}`;
    expect((await api(t, m, 'POST', '/users', { username: name, password, groups })).status).toBe(201);
    const session = await signIn(t, name, password);
    const credentials = new Map<string, string>();
    const token = await api(t, session, 'POST', '/tokens', { name: 'all', endpoint_access: { all: true } });
    expect(token.status, token.text).toBe(201);
    credentials.set(BEARER_KINDS[0]!, token.body.token);
    // Issuing a JWT needs read on its target: exactly what the management API shows the user.
    for (const [kind, query, allowed] of [
      [BEARER_KINDS[1]!, `deployment=${DEPLOYMENT}`, rights.service && rights.infrastructure],
      [BEARER_KINDS[2]!, `infrastructure=${INFRA}`, rights.infrastructure],
    ] as const) {
      const issued = await api(t, session, 'GET', `/issue-jwt?${query}`);
      expect(issued.status, `${kind} for ${label(rights)}`).toBe(allowed ? 200 : 404);
      if (allowed) credentials.set(kind, issued.body.token);
    }
    return { name, rights, removal, session, credentials };
  }

  /** Removes every right the person holds, the way `removal` says. */
  async function remove(p: Person): Promise<void> {
    const m = t.keys.management;
    const owned: [string, string][] = [];
    if (p.rights.service) owned.push([`/services/ib-svc/grants/${p.name}-svc`, `${p.name}-svc`]);
    if (p.rights.infrastructure) owned.push([`/infrastructures/${INFRA}/grants/${p.name}-infra`, `${p.name}-infra`]);
    if (p.removal === 'disable the user') {
      expect((await api(t, m, 'POST', `/users/${p.name}/disable`)).status).toBe(200);
      return;
    }
    for (const [grant, group] of owned) {
      const res =
        p.removal === 'revoke the grants'
          ? await api(t, m, 'DELETE', grant)
          : await api(t, m, 'DELETE', `/groups/${group}/members/${p.name}`);
      expect(res.status).toBe(204);
    }
  }

  /**
   * Asks both planes about every deployment, for every credential of `p`: the data plane with
   * the credential, the management API with the issuing user's session, and expects alike.
   */
  async function expectAlike(p: Person, phase: string): Promise<void> {
    for (const deployment of DEPLOYMENTS) {
      const management = await api(t, p.session, 'GET', `/deployments/${deployment}`);
      expect([200, 401, 404], `management ${deployment} ${phase}`).toContain(management.status);
      const managementOpens = management.status === 200;
      for (const [kind, credential] of p.credentials) {
        const data = await dataPlane(deployment, { authorization: `Bearer ${credential}` });
        const where = `${kind} of a user with ${label(p.rights)}, ${phase}, on ${deployment}`;
        expect([200, 401, 403], `${where}: ${data.text}`).toContain(data.status);
        expect(
          data.status === 200 ? 'opens' : 'refused',
          `${where}: data plane ${data.status}, API ${management.status}`,
        ).toBe(managementOpens ? 'opens' : 'refused');
      }
      // A session opens nothing on the data plane, as a bearer or as the console's cookie.
      const hits = up.hits.length;
      const asBearer = await dataPlane(deployment, { authorization: `Bearer ${p.session}` });
      const asCookie = await dataPlane(deployment, { cookie: `modelgate_session=${p.session}` });
      expect(asBearer.status, `management session as a bearer, ${phase}, on ${deployment}`).toBe(401);
      expect(asCookie.status, `management session as a cookie, ${phase}, on ${deployment}`).toBe(401);
      expect(up.hits.length).toBe(hits);
    }
  }

  beforeAll(async () => {
    const backend = await storeFor(dialect);
    drop = backend.drop;
    t = await startTestNode({ ...backend.overrides, failure_limit: '100000' });
    up = await recordingUpstream('up');
    const m = t.keys.management;
    expect((await api(t, m, 'POST', '/infrastructures', { name: INFRA })).status).toBe(201);
    for (const service of ['ib-svc', 'ib-other-svc']) {
      expect((await api(t, m, 'POST', '/services', { name: service })).status).toBe(201);
    }
    await deploy(t, {
      name: DEPLOYMENT,
      service: 'ib-svc',
      infrastructure: INFRA,
      upstream: up.url,
      access: 'protected',
    });
    await deploy(t, {
      name: OTHER,
      service: 'ib-other-svc',
      infrastructure: INFRA,
      upstream: up.url,
      access: 'protected',
    });
    for (const rights of COMBOS) {
      const removals = rights.service || rights.infrastructure ? REMOVALS : [undefined];
      for (const removal of removals) people.push(await person(rights, removal));
    }
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await drop?.();
  });

  it('a user with both rights is opened by every bearer credential on the deployment (the control)', async () => {
    const p = people.find((x) => x.rights.service && x.rights.infrastructure)!;
    expect([...p.credentials.keys()]).toEqual(BEARER_KINDS);
    for (const credential of p.credentials.values()) {
      expect((await dataPlane(DEPLOYMENT, { authorization: `Bearer ${credential}` })).status).toBe(200);
    }
  });

  it.each(COMBOS.map((rights) => [label(rights), rights] as const))(
    'issued by a user with %s: the data plane decides like the management API',
    async (_label, rights) => {
      for (const p of people.filter((x) => x.rights === rights)) await expectAlike(p, 'as issued');
    },
  );

  it.each(
    REMOVALS.flatMap((removal) =>
      COMBOS.filter((r) => r.service || r.infrastructure).map((rights) => [removal, label(rights), rights] as const),
    ),
  )('after "%s" (a user with %s): both planes refuse at once, alike', async (removal, _label, rights) => {
    const p = people.find((x) => x.rights === rights && x.removal === removal)!;
    await expectAlike(p, 'before the removal'); // every credential is now cached where it can be
    await remove(p);
    await expectAlike(p, `right after "${removal}"`);
    const management = await api(t, p.session, 'GET', `/deployments/${DEPLOYMENT}`);
    expect(management.status).toBe(removal === 'disable the user' ? 401 : 404);
  });

  it('a disabled user cannot sign in, so issues nothing', async () => {
    const m = t.keys.management;
    const name = `ib-${dialect}-disabled`;
    const password = `${GOOD_PASSWORD} ${name}`;
    expect((await api(t, m, 'POST', '/users', { username: name, password })).status).toBe(201);
    expect((await api(t, m, 'POST', `/users/${name}/disable`)).status).toBe(200);
    await expect(signIn(t, name, password)).rejects.toThrow(/sign in .*: 401/);
  });
});
