import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from './helpers/backends.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * Acceptance 1 of issue 8: every combination of (global privilege, service grant or ownership,
 * infrastructure grant) × every management action, through the HTTP API of a real node, on
 * SQLite and PostgreSQL. Expectations come from the small oracle below, written from the issue's
 * text, never from the module under test.
 */

type Privilege = 'none' | 'create_service' | 'admin';
type ServiceRelation = 'none' | 'read' | 'write' | 'deploy' | 'admin' | 'owner';
type InfraGrant = 'none' | 'view' | 'deploy' | 'admin';

/** What a combination holds, in the issue's words. */
interface Holds {
  readonly pC: boolean; // create_service
  readonly sR: boolean; // service read (any service right or ownership)
  readonly sW: boolean; // service write
  readonly sD: boolean; // service deploy
  readonly sA: boolean; // service admin
  readonly iV: boolean; // infrastructure view (any infrastructure right)
  readonly iD: boolean; // infrastructure deploy
  readonly iA: boolean; // infrastructure admin
}
type Flag = keyof Holds;

function holds(p: Privilege, s: ServiceRelation, i: InfraGrant): Holds {
  return {
    pC: p === 'create_service',
    sR: s !== 'none',
    sW: ['write', 'admin', 'owner'].includes(s),
    sD: ['deploy', 'admin', 'owner'].includes(s),
    sA: ['admin', 'owner'].includes(s),
    iV: i !== 'none',
    iD: i === 'deploy' || i === 'admin',
    iA: i === 'admin',
  };
}

/**
 * The oracle: for each action, what must be visible (else 404, as for a missing name), what
 * rights it needs (else 403), and the success status. `listed` actions answer 200 either way and
 * show the name only when visible. A global admin may do everything.
 */
const ORACLE: Record<string, { see: Flag[]; need: Flag[]; ok: number | 'listed' }> = {
  'list services': { see: ['sR'], need: [], ok: 'listed' },
  'read service': { see: ['sR'], need: [], ok: 200 },
  'create service': { see: [], need: ['pC'], ok: 201 },
  'update service': { see: ['sR'], need: ['sA'], ok: 200 },
  'delete service': { see: ['sR'], need: ['sA'], ok: 204 },
  'create version': { see: ['sR'], need: ['sW'], ok: 201 },
  'delete version': { see: ['sR'], need: ['sW'], ok: 204 },
  'create deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 201 },
  'list deployments': { see: ['sR', 'iV'], need: [], ok: 'listed' },
  'read deployment': { see: ['sR', 'iV'], need: [], ok: 200 },
  'update deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 200 },
  'disable deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 200 },
  'enable deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 200 },
  'redeploy deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 200 },
  'delete deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 204 },
  'create API key': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 201 },
  'list API keys': { see: ['sR', 'iV'], need: [], ok: 200 },
  'reveal API key': { see: ['sR', 'iV'], need: [], ok: 200 },
  'delete API key': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 204 },
  'manage service grants': { see: ['sR'], need: ['sA'], ok: 200 },
  'manage infrastructure grants': { see: ['iV'], need: ['iA'], ok: 200 },
  'use a granted secret': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 200 },
};

function expected(action: string, p: Privilege, h: Holds): number | 'listed' | 'absent' {
  const rule = ORACLE[action]!;
  if (p === 'admin') return rule.ok;
  if (!rule.see.every((f) => h[f])) return rule.ok === 'listed' ? 'absent' : 404;
  if (!rule.need.every((f) => h[f])) return 403;
  return rule.ok;
}

const PRIVILEGES: Privilege[] = ['none', 'create_service', 'admin'];
const SERVICE: ServiceRelation[] = ['none', 'read', 'write', 'deploy', 'admin', 'owner'];
const INFRA: InfraGrant[] = ['none', 'view', 'deploy', 'admin'];
const COMBOS = PRIVILEGES.flatMap((p) => SERVICE.flatMap((s) => INFRA.map((i) => ({ p, s, i }))));

interface Outcome {
  combo: string;
  action: string;
  got: number | 'listed' | 'absent';
  want: number | 'listed' | 'absent';
  code?: string;
}

/** Sets up one combination's world and runs every action as its user. */
async function runCombo(
  t: TestNode,
  user: { name: string; token: string },
  n: number,
  p: Privilege,
  s: ServiceRelation,
  i: InfraGrant,
): Promise<Outcome[]> {
  const m = t.keys.management;
  const as = async (method: string, path: string, body?: unknown) => {
    const res = await api(t, m, method, path, body);
    if (res.status >= 300) throw new Error(`setup ${method} ${path}: ${res.status} ${res.text}`);
    return res.body;
  };
  const [g, inf, svc, svcDel] = [`g${n}`, `inf${n}`, `svc${n}`, `svcdel${n}`];
  const { name: u, token } = user;
  // The lane's user holds exactly this combination: membership of this combination's group only.
  await as('POST', '/groups', { name: g, privileges: p === 'none' ? [] : [p] });
  await as('PUT', `/groups/${g}/members/${u}`);
  await as('POST', '/infrastructures', { name: inf });
  if (i !== 'none') await as('PUT', `/infrastructures/${inf}/grants/${g}`, { rights: [i] });
  for (const name of [svc, svcDel]) {
    if (s === 'owner') {
      // Ownership comes only from creating: lend create_service for the moment of creation.
      await as('PUT', `/groups/creators/members/${u}`);
      const made = await api(t, token, 'POST', '/services', { name });
      if (made.status !== 201) throw new Error(`owner create: ${made.text}`);
      await as('DELETE', `/groups/creators/members/${u}`);
    } else {
      await as('POST', '/services', { name });
      if (s !== 'none') await as('PUT', `/services/${name}/grants/${g}`, { rights: [s] });
    }
  }
  await as('POST', `/services/${svc}/versions`, { version: '1' });
  await as('POST', `/services/${svc}/versions`, { version: 'del' });
  const upstream = 'http://127.0.0.1:9/';
  for (const name of [`dep${n}`, `depdel${n}`]) {
    await as('POST', '/deployments', { name, service: svc, infrastructure: inf, version: '1', upstream });
  }
  const keys = (await as('POST', '/api-keys', { deployment: `dep${n}`, count: 2 })).api_keys;
  await as('POST', '/secrets', { name: `secok${n}`, value: 'a secret value' });
  await as('PUT', `/secrets/secok${n}/grants/${g}`, { rights: ['use'] });

  const actions: [string, string, string, unknown?][] = [
    ['list services', 'GET', '/services?limit=1000'],
    ['read service', 'GET', `/services/${svc}`],
    ['create service', 'POST', '/services', { name: `new${n}` }],
    ['update service', 'PATCH', `/services/${svc}`, { description: 'changed' }],
    ['delete service', 'DELETE', `/services/${svcDel}`],
    ['create version', 'POST', `/services/${svc}/versions`, { version: '2' }],
    ['delete version', 'DELETE', `/services/${svc}/versions/del`],
    [
      'create deployment',
      'POST',
      '/deployments',
      { name: `newdep${n}`, service: svc, infrastructure: inf, version: '1', upstream },
    ],
    ['list deployments', 'GET', '/deployments?limit=1000'],
    ['read deployment', 'GET', `/deployments/dep${n}`],
    ['update deployment', 'PATCH', `/deployments/dep${n}`, { upstream: 'http://127.0.0.1:10/' }],
    ['disable deployment', 'POST', `/deployments/dep${n}/disable`],
    ['enable deployment', 'POST', `/deployments/dep${n}/enable`],
    ['redeploy deployment', 'POST', `/deployments/dep${n}/redeploy`],
    ['delete deployment', 'DELETE', `/deployments/depdel${n}`],
    ['create API key', 'POST', '/api-keys', { deployment: `dep${n}` }],
    ['list API keys', 'GET', `/api-keys?deployment=dep${n}`],
    ['reveal API key', 'GET', `/api-keys/${keys[0].id}/reveal`],
    ['delete API key', 'DELETE', `/api-keys/${keys[1].id}`],
    ['manage service grants', 'PUT', `/services/${svc}/grants/others`, { rights: ['read'] }],
    ['manage infrastructure grants', 'PUT', `/infrastructures/${inf}/grants/others`, { rights: ['view'] }],
    ['use a granted secret', 'PATCH', `/deployments/dep${n}`, { auth: { basic_secret: `secok${n}` } }],
  ];
  const h = holds(p, s, i);
  const combo = `privilege=${p} service=${s} infrastructure=${i}`;
  const out: Outcome[] = [];
  for (const [action, method, path, body] of actions) {
    const res = await api(t, token, method, path, body);
    let got: Outcome['got'] = res.status;
    if (ORACLE[action]!.ok === 'listed') {
      const listed = JSON.stringify(res.body).includes(`"${action === 'list services' ? svc : `dep${n}`}"`);
      got = res.status === 200 ? (listed ? 'listed' : 'absent') : res.status;
    }
    out.push({ combo, action, got, want: expected(action, p, h), code: res.body?.error?.code });
  }
  // A secret the user holds no right on is invisible: 404 where the deployment change is allowed.
  const hidden = await api(t, token, 'PATCH', `/deployments/dep${n}`, { auth: { basic_secret: 'secno' } });
  const deployOk = p === 'admin' || (h.sR && h.iV && h.sD && h.iD);
  const visible = p === 'admin' || (h.sR && h.iV);
  out.push({
    combo,
    action: 'use a secret without a grant',
    got: hidden.status,
    want: p === 'admin' ? 200 : !visible ? 404 : !deployOk ? 403 : 404,
    code: hidden.body?.error?.code,
  });
  // Nothing changed on a refusal: the upstream is still the original when the update was refused.
  const now = (await as('GET', `/deployments/dep${n}`)).upstream;
  out.push({ combo, action: 'refused update changed nothing', got: now === upstream ? 1 : 0, want: deployOk ? 0 : 1 });
  await as('DELETE', `/groups/${g}/members/${u}`);
  return out;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`the permission matrix on ${dialect}`, () => {
    let t: TestNode;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const store = await storeFor(dialect);
      drop = store.drop;
      t = await startTestNode(store.overrides);
      const m = t.keys.management;
      await api(t, m, 'POST', '/groups', { name: 'creators', privileges: ['create_service'] });
      await api(t, m, 'POST', '/groups', { name: 'others' });
      await api(t, m, 'POST', '/secrets', { name: 'secno', value: 'nobody may use this' });
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await drop?.();
    });

    it(`${COMBOS.length} combinations × ${Object.keys(ORACLE).length + 2} actions match the oracle`, async () => {
      const outcomes: Outcome[] = [];
      // Six lanes run side by side, each with one signed-in user that takes each combination in
      // turn (one sign-in per lane: scrypt would otherwise dominate). Every combination has its
      // own resources and group, so lanes cannot interfere.
      const lanes = 6;
      // Sign-ins one after another: one address may run only a share of the node's password checks.
      const users: { name: string; token: string }[] = [];
      for (let l = 0; l < lanes; l++) {
        const name = `lane${l}`;
        const password = `${GOOD_PASSWORD} ${name}`;
        await api(t, t.keys.management, 'POST', '/users', { username: name, password });
        users.push({ name, token: await signIn(t, name, password) });
      }
      const results = await Promise.all(
        users.map(async (user, l) => {
          const mine: Outcome[] = [];
          for (let n = l; n < COMBOS.length; n += lanes) {
            const { p, s, i } = COMBOS[n]!;
            mine.push(...(await runCombo(t, user, n, p, s, i)));
          }
          return mine;
        }),
      );
      for (const r of results) outcomes.push(...r);
      const wrong = outcomes.filter((o) => o.got !== o.want);
      expect(wrong.map((o) => `${o.combo} | ${o.action}: got ${o.got}, want ${o.want} ${o.code ?? ''}`)).toEqual([]);
      // Every 403 names the missing right with a stable code; every 404 is the plain not-found.
      for (const o of outcomes) {
        if (o.got === 403) expect(o.code, `${o.combo} ${o.action}`).toMatch(/^MISSING_[A-Z_]+$/);
        if (o.got === 404) expect(o.code, `${o.combo} ${o.action}`).toBe('RESOURCE_NOT_FOUND');
      }
      // The matrix exercises every kind of answer, so a check that always allowed would fail.
      for (const kind of [200, 201, 204, 403, 404, 'listed', 'absent']) {
        expect(outcomes.some((o) => o.want === kind)).toBe(true);
      }
      expect(outcomes.length).toBe(COMBOS.length * (Object.keys(ORACLE).length + 2));
    }, 300_000);
  });
}
