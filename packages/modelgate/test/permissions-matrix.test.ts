import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from './helpers/backends.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * The one permission matrix. Every management route the running node registers has a decision
 * here (ROUTES), and a route added without one fails the first test by name. Routes scoped to a
 * service or an infrastructure are decided by the combination matrix: every combination of
 * (global privilege, service grant or ownership, infrastructure grant) × every such action,
 * through the HTTP API of a real node (ORACLE). Node-wide, people and secret routes are decided by
 * the caller sweep: every kind of caller × every such route (SWEEP). Both run on SQLite and
 * PostgreSQL. Expectations come from the small oracles below, written from the README's rules
 * ("Teams and permissions"), never from the module under test.
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
  'read deployment traffic': { see: ['sR', 'iV'], need: [], ok: 200 },
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
  'list versions': { see: ['sR'], need: [], ok: 200 },
  'read version': { see: ['sR'], need: [], ok: 200 },
  'list service grants': { see: ['sR'], need: [], ok: 200 },
  'revoke service grant': { see: ['sR'], need: ['sA'], ok: 204 },
  'roll API key': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 201 },
  'list infrastructures': { see: ['iV'], need: [], ok: 'listed' },
  'read infrastructure': { see: ['iV'], need: [], ok: 200 },
  'update infrastructure': { see: ['iV'], need: ['iA'], ok: 200 },
  'delete infrastructure': { see: ['iV'], need: ['iA'], ok: 204 },
  'list infrastructure grants': { see: ['iV'], need: [], ok: 200 },
  'revoke infrastructure grant': { see: ['iV'], need: ['iA'], ok: 204 },
  // Scaleway: whoever may read a deployment or view an infrastructure may issue a JWT for it.
  'issue a deployment JWT': { see: ['sR', 'iV'], need: [], ok: 200 },
  'issue a deployment JWT by GET': { see: ['sR', 'iV'], need: [], ok: 200 },
  'issue an infrastructure JWT': { see: ['iV'], need: [], ok: 200 },
  // Cutting other people's callers needs deploy on the target.
  'revoke the JWTs of a deployment': { see: ['sR', 'iV'], need: ['sD', 'iD'], ok: 201 },
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
  for (const name of [inf, `infdel${n}`]) {
    await as('POST', '/infrastructures', { name });
    if (i !== 'none') await as('PUT', `/infrastructures/${name}/grants/${g}`, { rights: [i] });
  }
  await as('PUT', `/infrastructures/${inf}/grants/others`, { rights: ['view'] });
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
  await as('PUT', `/services/${svc}/grants/others`, { rights: ['read'] });
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
    ['read deployment traffic', 'GET', `/deployments/dep${n}/traffic`],
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
    ['list versions', 'GET', `/services/${svc}/versions`],
    ['read version', 'GET', `/services/${svc}/versions/1`],
    ['list service grants', 'GET', `/services/${svc}/grants`],
    ['revoke service grant', 'DELETE', `/services/${svc}/grants/others`],
    ['roll API key', 'POST', `/api-keys/${keys[0].id}/roll`, {}],
    ['list infrastructures', 'GET', '/infrastructures?limit=1000'],
    ['read infrastructure', 'GET', `/infrastructures/${inf}`],
    ['update infrastructure', 'PATCH', `/infrastructures/${inf}`, { description: 'changed' }],
    ['delete infrastructure', 'DELETE', `/infrastructures/infdel${n}`],
    ['list infrastructure grants', 'GET', `/infrastructures/${inf}/grants`],
    ['revoke infrastructure grant', 'DELETE', `/infrastructures/${inf}/grants/others`],
    ['issue a deployment JWT', 'POST', '/issue-jwt', { deployment: `dep${n}` }],
    ['issue a deployment JWT by GET', 'GET', `/issue-jwt?deployment=dep${n}`],
    ['issue an infrastructure JWT', 'POST', '/issue-jwt', { infrastructure: inf }],
    ['revoke the JWTs of a deployment', 'POST', '/jwt-revocations', { deployment: `dep${n}` }],
  ];
  const h = holds(p, s, i);
  const combo = `privilege=${p} service=${s} infrastructure=${i}`;
  const out: Outcome[] = [];
  for (const [action, method, path, body] of actions) {
    const res = await api(t, token, method, path, body);
    let got: Outcome['got'] = res.status;
    if (ORACLE[action]!.ok === 'listed') {
      const name = { 'list services': svc, 'list infrastructures': inf }[action] ?? `dep${n}`;
      const listed = JSON.stringify(res.body).includes(`"${name}"`);
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

/**
 * Who may call a node-wide, people or secret route, in the README's words. `public`: anyone, no
 * credential; `token_api`: only the node's token-API key (TorchServe's `/token`); `admin`: global
 * admins only (node management key, admin keys, users with `admin`), others 403
 * MISSING_GLOBAL_ADMIN; `signed_in`: any management caller; `own`: any user on their own things,
 * global admins on anyone's, others 404 as for a missing name (or 403 where the name is public,
 * such as a username); `secret_admin`: the secret's owner, its `admin` grantees and global admins,
 * others 404 (a secret they hold no right on is invisible).
 */
type Rule = 'public' | 'token_api' | 'admin' | 'signed_in' | 'own' | 'secret_admin';

/**
 * Every management route, `METHOD /pattern` as the node registers it, and what decides it: an
 * action of the combination matrix (ORACLE), or a caller-sweep rule (SWEEP). A new route without
 * an entry fails the first test, by name.
 */
const ROUTES: Record<string, { matrix?: keyof typeof ORACLE; sweep?: Rule }> = {
  'GET /.well-known/jwks.json': { sweep: 'public' },
  'GET /_health/live': { sweep: 'public' },
  'GET /_health/ready': { sweep: 'public' },
  'GET /api/v1/openapi.json': { sweep: 'public' },
  // The web console's page and assets: everything it shows comes from the API, which decides.
  'GET /console': { sweep: 'public' },
  'GET /console/*': { sweep: 'public' },
  'POST /api/v1/sessions': { sweep: 'public' },
  'GET /token': { sweep: 'token_api' },
  'POST /token': { sweep: 'token_api' },
  'GET /api/v1/whoami': { sweep: 'signed_in' },
  'GET /api/v1/signing-keys': { sweep: 'signed_in' },
  'POST /api/v1/signing-keys/rotate': { sweep: 'admin' },
  // By target: deploy on it (matrix); by jti, which names no target: global admins (sweep).
  'POST /api/v1/jwt-revocations': { matrix: 'revoke the JWTs of a deployment', sweep: 'admin' },
  'GET /api/v1/issue-jwt': { matrix: 'issue a deployment JWT by GET' },
  'POST /api/v1/issue-jwt': { matrix: 'issue a deployment JWT' },
  'GET /api/v1/audit': { sweep: 'admin' },
  'GET /api/v1/users': { sweep: 'admin' },
  'POST /api/v1/users': { sweep: 'admin' },
  'GET /api/v1/users/:username': { sweep: 'own' },
  'DELETE /api/v1/users/:username': { sweep: 'admin' },
  'POST /api/v1/users/:username/disable': { sweep: 'admin' },
  'POST /api/v1/users/:username/enable': { sweep: 'admin' },
  'PUT /api/v1/users/:username/password': { sweep: 'own' },
  'POST /api/v1/users/:username/password-reset': { sweep: 'admin' },
  'GET /api/v1/groups': { sweep: 'admin' },
  'POST /api/v1/groups': { sweep: 'admin' },
  'GET /api/v1/groups/:name': { sweep: 'admin' },
  'PATCH /api/v1/groups/:name': { sweep: 'admin' },
  'DELETE /api/v1/groups/:name': { sweep: 'admin' },
  'PUT /api/v1/groups/:name/members/:username': { sweep: 'admin' },
  'DELETE /api/v1/groups/:name/members/:username': { sweep: 'admin' },
  'GET /api/v1/tokens': { sweep: 'own' },
  'POST /api/v1/tokens': { sweep: 'own' },
  // `modelgate login --web`: a user approves (a token for oneself); the CLI's exchange is public,
  // its proof being the one-time code and the PKCE verifier.
  'POST /api/v1/cli-login/approve': { sweep: 'own' },
  'POST /api/v1/cli-login/token': { sweep: 'public' },
  'DELETE /api/v1/tokens/:id': { sweep: 'own' },
  'POST /api/v1/tokens/:id/roll': { sweep: 'own' },
  'DELETE /api/v1/sessions/current': { sweep: 'own' },
  'GET /api/v1/secrets': { sweep: 'signed_in' },
  'POST /api/v1/secrets': { sweep: 'signed_in' },
  'PUT /api/v1/secrets/:name': { sweep: 'secret_admin' },
  'DELETE /api/v1/secrets/:name': { sweep: 'secret_admin' },
  'GET /api/v1/secrets/:name/grants': { sweep: 'secret_admin' },
  'PUT /api/v1/secrets/:name/grants/:group': { sweep: 'secret_admin' },
  'DELETE /api/v1/secrets/:name/grants/:group': { sweep: 'secret_admin' },
  'GET /api/v1/services': { matrix: 'list services' },
  'POST /api/v1/services': { matrix: 'create service' },
  'GET /api/v1/services/:name': { matrix: 'read service' },
  'PATCH /api/v1/services/:name': { matrix: 'update service' },
  'DELETE /api/v1/services/:name': { matrix: 'delete service' },
  'GET /api/v1/services/:name/versions': { matrix: 'list versions' },
  'POST /api/v1/services/:name/versions': { matrix: 'create version' },
  'GET /api/v1/services/:name/versions/:version': { matrix: 'read version' },
  'DELETE /api/v1/services/:name/versions/:version': { matrix: 'delete version' },
  'GET /api/v1/services/:name/grants': { matrix: 'list service grants' },
  'PUT /api/v1/services/:name/grants/:group': { matrix: 'manage service grants' },
  'DELETE /api/v1/services/:name/grants/:group': { matrix: 'revoke service grant' },
  'GET /api/v1/infrastructures': { matrix: 'list infrastructures' },
  'POST /api/v1/infrastructures': { sweep: 'admin' },
  'GET /api/v1/infrastructures/:name': { matrix: 'read infrastructure' },
  'PATCH /api/v1/infrastructures/:name': { matrix: 'update infrastructure' },
  'DELETE /api/v1/infrastructures/:name': { matrix: 'delete infrastructure' },
  'GET /api/v1/infrastructures/:name/grants': { matrix: 'list infrastructure grants' },
  'PUT /api/v1/infrastructures/:name/grants/:group': { matrix: 'manage infrastructure grants' },
  'DELETE /api/v1/infrastructures/:name/grants/:group': { matrix: 'revoke infrastructure grant' },
  'GET /api/v1/deployments': { matrix: 'list deployments' },
  'POST /api/v1/deployments': { matrix: 'create deployment' },
  'GET /api/v1/deployments/:name': { matrix: 'read deployment' },
  'GET /api/v1/deployments/:name/traffic': { matrix: 'read deployment traffic' },
  'PATCH /api/v1/deployments/:name': { matrix: 'update deployment' },
  'DELETE /api/v1/deployments/:name': { matrix: 'delete deployment' },
  'POST /api/v1/deployments/:name/disable': { matrix: 'disable deployment' },
  'POST /api/v1/deployments/:name/enable': { matrix: 'enable deployment' },
  'POST /api/v1/deployments/:name/redeploy': { matrix: 'redeploy deployment' },
  'GET /api/v1/api-keys': { matrix: 'list API keys' },
  'POST /api/v1/api-keys': { matrix: 'create API key' },
  'GET /api/v1/api-keys/:id/reveal': { matrix: 'reveal API key' },
  'POST /api/v1/api-keys/:id/roll': { matrix: 'roll API key' },
  'DELETE /api/v1/api-keys/:id': { matrix: 'delete API key' },
};

/** The callers of the sweep: no credential, each node key, and a user of each global privilege. */
const CALLERS = ['none', 'inference_key', 'token_api_key', 'management_key', 'user', 'creator', 'admin_user'] as const;
type Caller = (typeof CALLERS)[number];

/** What one sweep case asks, with names made for this caller (`c`) so that cases cannot collide. */
interface SweepCase {
  readonly route: string;
  /** Which target, when a route has several cases (someone else's, or the caller's own). */
  readonly variant?: string;
  /** The request; `credential` replaces the caller's own where the case needs a fresh one. */
  readonly request: (c: SweepWorld) => Promise<{ method: string; path: string; body?: unknown; credential?: string }>;
  readonly ok: number;
  /** Overrides the rule's expectation for some callers (each override says why). */
  readonly expect?: Partial<Record<Caller, number>>;
}

/** What a sweep case may set up and use: the caller's suffix and credential, and the node. */
interface SweepWorld {
  readonly c: string;
  readonly caller: Caller;
  readonly credential: string | undefined;
  /** Runs a setup call as the management key (throws on failure). */
  as(method: string, path: string, body?: unknown): Promise<any>;
  /** A fresh session for this caller's user (undefined for keys and no credential). */
  freshSession(): Promise<string | undefined>;
  readonly username: string | undefined;
  /** This caller's user's password (undefined for keys and no credential). */
  readonly password: string | undefined;
  /** The management listener's base URL, and a session of the other user (who owns tokens). */
  readonly management: string;
  readonly otherSession: string;
}

const ADMINS: ReadonlySet<Caller> = new Set(['management_key', 'admin_user']);
const USERS: ReadonlySet<Caller> = new Set(['user', 'creator', 'admin_user']);

/** The rule's answer for a caller: the success status, or the refusal. */
function sweepExpected(rule: Rule, caller: Caller, ok: number, override?: number): number {
  if (override !== undefined) return override;
  if (rule === 'public') return ok;
  if (caller === 'none') return 401;
  if (rule === 'token_api') return caller === 'token_api_key' ? ok : 403;
  if (caller === 'inference_key' || caller === 'token_api_key') return 403;
  if (rule === 'signed_in' || ADMINS.has(caller)) return ok;
  if (rule === 'admin') return 403;
  // own / secret_admin for a non-admin user: the target here is always someone else's.
  return 404;
}

const other = 'someone-else';

const SWEEP: SweepCase[] = [
  {
    route: 'GET /.well-known/jwks.json',
    request: async () => ({ method: 'GET', path: '/.well-known/jwks.json' }),
    ok: 200,
  },
  { route: 'GET /_health/live', request: async () => ({ method: 'GET', path: '/_health/live' }), ok: 200 },
  { route: 'GET /_health/ready', request: async () => ({ method: 'GET', path: '/_health/ready' }), ok: 200 },
  {
    route: 'GET /api/v1/openapi.json',
    request: async () => ({ method: 'GET', path: '/api/v1/openapi.json' }),
    ok: 200,
  },
  // A 308 to /console/, which the sweep's fetch follows.
  { route: 'GET /console', request: async () => ({ method: 'GET', path: '/console' }), ok: 200 },
  { route: 'GET /console/*', request: async () => ({ method: 'GET', path: '/console/deployments' }), ok: 200 },
  {
    route: 'POST /api/v1/sessions',
    request: async () => ({
      method: 'POST',
      path: '/api/v1/sessions',
      body: { username: other, password: OTHER_PASSWORD },
    }),
    ok: 201,
  },
  { route: 'GET /api/v1/whoami', request: async () => ({ method: 'GET', path: '/api/v1/whoami' }), ok: 200 },
  {
    route: 'GET /api/v1/signing-keys',
    request: async () => ({ method: 'GET', path: '/api/v1/signing-keys' }),
    ok: 200,
  },
  {
    route: 'POST /api/v1/signing-keys/rotate',
    request: async () => ({ method: 'POST', path: '/api/v1/signing-keys/rotate' }),
    ok: 201,
  },
  {
    route: 'POST /api/v1/jwt-revocations',
    variant: 'by jti (names no target, so global admins only)',
    request: async () => ({ method: 'POST', path: '/api/v1/jwt-revocations', body: { jti: 'jwt_whatever' } }),
    ok: 201,
  },
  { route: 'GET /api/v1/audit', request: async () => ({ method: 'GET', path: '/api/v1/audit?limit=1' }), ok: 200 },
  { route: 'GET /api/v1/users', request: async () => ({ method: 'GET', path: '/api/v1/users' }), ok: 200 },
  {
    route: 'POST /api/v1/users',
    request: async (w) => ({
      method: 'POST',
      path: '/api/v1/users',
      body: { username: `new-${w.c}`, password: `${GOOD_PASSWORD} new` },
    }),
    ok: 201,
  },
  {
    route: 'GET /api/v1/users/:username',
    variant: 'someone else (a username is not secret: 403)',
    request: async () => ({ method: 'GET', path: `/api/v1/users/${other}` }),
    ok: 200,
    expect: { user: 403, creator: 403 },
  },
  {
    route: 'GET /api/v1/users/:username',
    variant: 'oneself',
    request: async (w) => ({ method: 'GET', path: `/api/v1/users/${w.username ?? other}` }),
    ok: 200,
    expect: { user: 200, creator: 200 },
  },
  {
    route: 'DELETE /api/v1/users/:username',
    request: async (w) => {
      await w.as('POST', '/users', { username: `gone-${w.c}`, password: `${GOOD_PASSWORD} gone` });
      return { method: 'DELETE', path: `/api/v1/users/gone-${w.c}` };
    },
    ok: 204,
  },
  {
    route: 'POST /api/v1/users/:username/disable',
    request: async (w) => {
      await w.as('POST', '/users', { username: `off-${w.c}`, password: `${GOOD_PASSWORD} off` });
      return { method: 'POST', path: `/api/v1/users/off-${w.c}/disable` };
    },
    ok: 200,
  },
  {
    route: 'POST /api/v1/users/:username/enable',
    request: async (w) => {
      await w.as('POST', '/users', { username: `on-${w.c}`, password: `${GOOD_PASSWORD} on` });
      await w.as('POST', `/users/on-${w.c}/disable`);
      return { method: 'POST', path: `/api/v1/users/on-${w.c}/enable` };
    },
    ok: 200,
  },
  {
    route: 'PUT /api/v1/users/:username/password',
    variant:
      "someone else's (own account only, with the current password: 403 PASSWORD_WRONG_ROUTE for everyone, admins too; theirs is a reset)",
    request: async (w) => {
      await w.as('POST', '/users', { username: `pw-${w.c}`, password: `${GOOD_PASSWORD} pw` });
      return {
        method: 'PUT',
        path: `/api/v1/users/pw-${w.c}/password`,
        body: { password: `${GOOD_PASSWORD} reset`, current_password: `${GOOD_PASSWORD} pw` },
      };
    },
    ok: 204,
    expect: { user: 403, creator: 403, management_key: 403, admin_user: 403 },
  },
  {
    route: 'POST /api/v1/users/:username/password-reset',
    variant: "someone else's (global admins only)",
    request: async (w) => {
      await w.as('POST', '/users', { username: `rs-${w.c}`, password: `${GOOD_PASSWORD} rs` });
      return {
        method: 'POST',
        path: `/api/v1/users/rs-${w.c}/password-reset`,
        body: { password: `${GOOD_PASSWORD} reset` },
      };
    },
    ok: 204,
  },
  { route: 'GET /api/v1/groups', request: async () => ({ method: 'GET', path: '/api/v1/groups' }), ok: 200 },
  {
    route: 'POST /api/v1/groups',
    request: async (w) => ({ method: 'POST', path: '/api/v1/groups', body: { name: `grp-${w.c}` } }),
    ok: 201,
  },
  {
    route: 'GET /api/v1/groups/:name',
    request: async () => ({ method: 'GET', path: '/api/v1/groups/others' }),
    ok: 200,
  },
  {
    route: 'PATCH /api/v1/groups/:name',
    request: async () => ({ method: 'PATCH', path: '/api/v1/groups/others', body: { privileges: [] } }),
    ok: 200,
  },
  {
    route: 'DELETE /api/v1/groups/:name',
    request: async (w) => {
      await w.as('POST', '/groups', { name: `del-${w.c}` });
      return { method: 'DELETE', path: `/api/v1/groups/del-${w.c}` };
    },
    ok: 204,
  },
  {
    route: 'PUT /api/v1/groups/:name/members/:username',
    request: async () => ({ method: 'PUT', path: `/api/v1/groups/others/members/${other}` }),
    ok: 200,
  },
  {
    route: 'DELETE /api/v1/groups/:name/members/:username',
    request: async (w) => {
      await w.as('POST', '/groups', { name: `mem-${w.c}` });
      await w.as('PUT', `/groups/mem-${w.c}/members/${other}`);
      return { method: 'DELETE', path: `/api/v1/groups/mem-${w.c}/members/${other}` };
    },
    ok: 204,
  },
  {
    route: 'POST /api/v1/infrastructures',
    request: async (w) => ({ method: 'POST', path: '/api/v1/infrastructures', body: { name: `infra-${w.c}` } }),
    ok: 201,
  },
  {
    route: 'GET /api/v1/tokens',
    variant: "someone else's (global admins only)",
    request: async () => ({ method: 'GET', path: `/api/v1/tokens?user=${other}` }),
    ok: 200,
    expect: { user: 403, creator: 403 },
  },
  {
    route: 'GET /api/v1/tokens',
    variant: 'one’s own',
    request: async () => ({ method: 'GET', path: '/api/v1/tokens' }),
    ok: 200,
    expect: { user: 200, creator: 200 },
  },
  {
    route: 'POST /api/v1/cli-login/approve',
    variant: 'for oneself (a key is nobody: it owns no token)',
    request: async (w) => ({
      method: 'POST',
      path: '/api/v1/cli-login/approve',
      body: {
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        token: { name: `cli-${w.c}`, ops_access: true },
      },
    }),
    ok: 201,
    expect: { user: 201, creator: 201, management_key: 403 },
  },
  {
    route: 'POST /api/v1/cli-login/token',
    variant: 'an unknown code: refused for everyone, whatever credential comes with it',
    request: async () => ({
      method: 'POST',
      path: '/api/v1/cli-login/token',
      body: { code: 'nope', code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' },
    }),
    ok: 400,
  },
  {
    route: 'POST /api/v1/tokens',
    variant: 'for oneself (a key is nobody: it owns no token)',
    request: async (w) => ({ method: 'POST', path: '/api/v1/tokens', body: { name: `tok-${w.c}`, ops_access: true } }),
    ok: 201,
    expect: { user: 201, creator: 201, management_key: 403 },
  },
  {
    route: 'DELETE /api/v1/tokens/:id',
    variant: "someone else's",
    request: async (w) => {
      const id = await otherToken(w);
      return { method: 'DELETE', path: `/api/v1/tokens/${id}` };
    },
    ok: 204,
  },
  {
    route: 'POST /api/v1/tokens/:id/roll',
    variant: "someone else's (rolling makes a secret: only its owner)",
    request: async (w) => {
      const id = await otherToken(w);
      return { method: 'POST', path: `/api/v1/tokens/${id}/roll`, body: {} };
    },
    ok: 201,
    expect: { management_key: 404, admin_user: 404 },
  },
  {
    route: 'POST /api/v1/tokens/:id/roll',
    variant: 'one’s own (keys own none: they roll the other user’s)',
    request: async (w) => {
      const id = await otherToken(w, w.username ? w.credential : undefined);
      return { method: 'POST', path: `/api/v1/tokens/${id}/roll`, body: {} };
    },
    ok: 201,
    expect: { user: 201, creator: 201, management_key: 404 },
  },
  {
    route: 'DELETE /api/v1/tokens/:id',
    variant: 'one’s own',
    request: async (w) => {
      const id = await otherToken(w, w.username ? w.credential : undefined);
      return { method: 'DELETE', path: `/api/v1/tokens/${id}` };
    },
    ok: 204,
    expect: { user: 204, creator: 204 },
  },
  {
    route: 'DELETE /api/v1/sessions/current',
    variant: 'one’s own session (a key has none)',
    // A fresh session: ending the caller's own would end the sweep's.
    request: async (w) => ({ method: 'DELETE', path: '/api/v1/sessions/current', credential: await w.freshSession() }),
    ok: 204,
    expect: { user: 204, creator: 204, management_key: 400 },
  },
  { route: 'GET /api/v1/secrets', request: async () => ({ method: 'GET', path: '/api/v1/secrets' }), ok: 200 },
  {
    route: 'POST /api/v1/secrets',
    request: async (w) => ({ method: 'POST', path: '/api/v1/secrets', body: { name: `mine-${w.c}`, value: 'v' } }),
    ok: 201,
  },
  {
    route: 'PUT /api/v1/secrets/:name',
    request: async (w) => ({ method: 'PUT', path: `/api/v1/secrets/${await theirSecret(w)}`, body: { value: 'new' } }),
    ok: 200,
  },
  {
    route: 'DELETE /api/v1/secrets/:name',
    request: async (w) => ({ method: 'DELETE', path: `/api/v1/secrets/${await theirSecret(w)}` }),
    ok: 204,
  },
  {
    route: 'GET /api/v1/secrets/:name/grants',
    request: async (w) => ({ method: 'GET', path: `/api/v1/secrets/${await theirSecret(w)}/grants` }),
    ok: 200,
  },
  {
    route: 'PUT /api/v1/secrets/:name/grants/:group',
    request: async (w) => ({
      method: 'PUT',
      path: `/api/v1/secrets/${await theirSecret(w)}/grants/others`,
      body: { rights: ['use'] },
    }),
    ok: 200,
  },
  {
    route: 'DELETE /api/v1/secrets/:name/grants/:group',
    request: async (w) => {
      const name = await theirSecret(w);
      await w.as('PUT', `/secrets/${name}/grants/others`, { rights: ['use'] });
      return { method: 'DELETE', path: `/api/v1/secrets/${name}/grants/others` };
    },
    ok: 204,
  },
  {
    route: 'PUT /api/v1/users/:username/password',
    variant: 'oneself, with the current password (late in the sweep: nothing after it signs in again)',
    request: async (w) => ({
      method: 'PUT',
      path: `/api/v1/users/${w.username ?? other}/password`,
      body: { password: `${GOOD_PASSWORD} changed ${w.c}`, current_password: w.password ?? OTHER_PASSWORD },
    }),
    ok: 204,
    expect: { user: 204, creator: 204, admin_user: 204, management_key: 403 },
  },
  // Last: they replace node keys (the sweep reads the key file again after each).
  { route: 'GET /token', request: async () => ({ method: 'GET', path: '/token?type=inference' }), ok: 200 },
  { route: 'POST /token', request: async () => ({ method: 'POST', path: '/token?type=inference' }), ok: 200 },
];

const OTHER_PASSWORD = `${GOOD_PASSWORD} of someone else`;
let made = 0;

/** A secret owned by the management key, with no grants: invisible to the caller unless admin. */
async function theirSecret(w: SweepWorld): Promise<string> {
  const name = `theirs-${w.c}-${made++}`;
  await w.as('POST', '/secrets', { name, value: 'not yours' });
  return name;
}

/** A fresh ops token of the other user (or of the owner of `session`), for the token routes. */
async function otherToken(w: SweepWorld, session: string = w.otherSession): Promise<string> {
  const res = await fetch(`${w.management}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${session}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: `theirs-${w.c}-${made++}`, ops_access: true }),
  });
  if (res.status !== 201) throw new Error(`other token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
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

    it('every route the node registers has a permission decision, and every decision is exercised', () => {
      const registered = t.node.management.routeList();
      const missing = registered.filter((route) => !Object.hasOwn(ROUTES, route));
      expect(missing, 'management routes with no entry in ROUTES: give each a permission decision').toEqual([]);
      const stale = Object.keys(ROUTES).filter((route) => !registered.includes(route));
      expect(stale, 'ROUTES entries for routes the node does not have').toEqual([]);
      for (const [route, decision] of Object.entries(ROUTES)) {
        expect(decision.matrix ?? decision.sweep, `${route}: no decision`).toBeDefined();
        if (decision.matrix) expect(ORACLE[decision.matrix], `${route}: no such matrix action`).toBeDefined();
        if (decision.sweep)
          expect(
            SWEEP.some((c) => c.route === route),
            `${route}: no sweep case`,
          ).toBe(true);
      }
      for (const c of SWEEP) expect(ROUTES[c.route], `sweep case for unknown route ${c.route}`).toHaveProperty('sweep');
    });

    it(`${CALLERS.length} callers × ${SWEEP.length} node-wide, people and secret cases match the rules`, async () => {
      const m = t.keys.management;
      const setup = async (method: string, path: string, body?: unknown) => {
        const res = await api(t, m, method, path, body);
        if (res.status >= 300) throw new Error(`setup ${method} ${path}: ${res.status} ${res.text}`);
        return res.body;
      };
      await setup('POST', '/groups', { name: 'sweep-admins', privileges: ['admin'] });
      await setup('POST', '/users', { username: other, password: OTHER_PASSWORD });
      const otherSession = await signIn(t, other, OTHER_PASSWORD);
      const users: Partial<Record<Caller, { name: string; password: string; session: string }>> = {};
      for (const [caller, groups] of [
        ['user', []],
        ['creator', ['creators']],
        ['admin_user', ['sweep-admins']],
      ] as const) {
        const name = `sweep-${caller.replace('_', '-')}`;
        const password = `${GOOD_PASSWORD} ${name}`;
        await setup('POST', '/users', { username: name, password, groups });
        users[caller] = { name, password, session: await signIn(t, name, password) };
      }
      let keys = t.keys;
      const credentialOf = (caller: Caller): string | undefined =>
        ({
          none: undefined,
          inference_key: keys.inference,
          token_api_key: keys.api,
          management_key: keys.management,
        })[caller as string] ?? users[caller]?.session;

      const wrong: string[] = [];
      let answered = 0;
      for (const [ci, caller] of CALLERS.entries()) {
        for (const [k, kase] of SWEEP.entries()) {
          const user = users[caller];
          const world: SweepWorld = {
            c: `${ci}-${k}`,
            caller,
            credential: credentialOf(caller),
            as: setup,
            freshSession: async () => (user ? signIn(t, user.name, user.password) : undefined),
            username: user?.name,
            password: user?.password,
            management: t.node.urls.management,
            otherSession,
          };
          const req = await kase.request(world);
          const credential = req.credential ?? world.credential;
          const res = await fetch(`${t.node.urls.management}${req.path}`, {
            method: req.method,
            headers: {
              ...(credential ? { authorization: `Bearer ${credential}` } : {}),
              ...(req.body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: req.body === undefined ? undefined : JSON.stringify(req.body),
          });
          const text = await res.text();
          const rule = ROUTES[kase.route]!.sweep!;
          const want = sweepExpected(rule, caller, kase.ok, kase.expect?.[caller]);
          const code = /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? '';
          const label = `${caller} | ${kase.route}${kase.variant ? ` (${kase.variant})` : ''}`;
          if (res.status !== want) wrong.push(`${label}: got ${res.status}, want ${want} ${code}`);
          else if (want === 403 && rule === 'admin' && USERS.has(caller) && code !== 'MISSING_GLOBAL_ADMIN') {
            wrong.push(`${label}: 403 with ${code}, want MISSING_GLOBAL_ADMIN`);
          } else if (want === 404 && code !== 'RESOURCE_NOT_FOUND') wrong.push(`${label}: 404 with ${code}`);
          answered++;
          // `/token` replaced a node key: the next callers use the new ones.
          if (kase.route.endsWith(' /token') && res.status === 200) {
            const file = JSON.parse(readFileSync(join(t.dir, 'key_file.json'), 'utf8'));
            keys = { management: file.management.key, inference: file.inference.key, api: file.API.key };
          }
        }
      }
      expect(wrong).toEqual([]);
      expect(answered).toBe(CALLERS.length * SWEEP.length);
    }, 300_000);
  });
}
