import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { changeRoutesOf } from '../src/controlplane/api/audit-log.js';
import { nodeOn, STORE_BACKENDS } from './helpers/backends.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { GOOD_PASSWORD } from './helpers/people.js';

/** What a case sends: a method, a path (under the listener), a body, and which credential. */
interface Call {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly as?: 'management' | 'user' | 'api' | 'none' | 'session-to-end';
}

/**
 * Issue 17, item 11, the structural half: every change route the management API has (as the
 * audit hook itself lists them), called once so that it succeeds. In order, so each call finds
 * what the earlier ones made. A new change route without a case here fails the first test.
 */
const CASES: readonly [route: string, call: Call][] = [
  ['POST /api/v1/infrastructures', { method: 'POST', path: '/api/v1/infrastructures', body: { name: 'infra-a' } }],
  [
    'PATCH /api/v1/infrastructures/:name',
    { method: 'PATCH', path: '/api/v1/infrastructures/infra-a', body: { description: 'd' } },
  ],
  ['POST /api/v1/services', { method: 'POST', path: '/api/v1/services', body: { name: 'svc-a' } }],
  ['PATCH /api/v1/services/:name', { method: 'PATCH', path: '/api/v1/services/svc-a', body: { description: 'd' } }],
  [
    'POST /api/v1/services/:name/versions',
    { method: 'POST', path: '/api/v1/services/svc-a/versions', body: { version: '2' } },
  ],
  ['POST /api/v1/secrets', { method: 'POST', path: '/api/v1/secrets', body: { name: 'pw-a', generate: true } }],
  ['PUT /api/v1/secrets/:name', { method: 'PUT', path: '/api/v1/secrets/pw-a', body: { generate: true } }],
  [
    'POST /api/v1/deployments',
    { method: 'POST', path: '/api/v1/deployments', body: { name: 'dep-a', upstream: 'http://127.0.0.1:9' } },
  ],
  [
    'PATCH /api/v1/deployments/:name',
    { method: 'PATCH', path: '/api/v1/deployments/dep-a', body: { upstream: 'http://127.0.0.1:10' } },
  ],
  ['POST /api/v1/deployments/:name/redeploy', { method: 'POST', path: '/api/v1/deployments/dep-a/redeploy' }],
  ['POST /api/v1/deployments/:name/disable', { method: 'POST', path: '/api/v1/deployments/dep-a/disable' }],
  ['POST /api/v1/deployments/:name/enable', { method: 'POST', path: '/api/v1/deployments/dep-a/enable' }],
  ['POST /api/v1/api-keys', { method: 'POST', path: '/api/v1/api-keys', body: { deployment: 'dep-a' } }],
  ['POST /api/v1/api-keys/:id/roll', { method: 'POST', path: '/api/v1/api-keys/{key}/roll', body: {} }],
  ['DELETE /api/v1/api-keys/:id', { method: 'DELETE', path: '/api/v1/api-keys/{key}' }],
  ['POST /api/v1/groups', { method: 'POST', path: '/api/v1/groups', body: { name: 'team-a' } }],
  ['PATCH /api/v1/groups/:name', { method: 'PATCH', path: '/api/v1/groups/team-a', body: { privileges: [] } }],
  [
    'POST /api/v1/users',
    { method: 'POST', path: '/api/v1/users', body: { username: 'alice', password: `${GOOD_PASSWORD} alice` } },
  ],
  ['PUT /api/v1/groups/:name/members/:username', { method: 'PUT', path: '/api/v1/groups/team-a/members/alice' }],
  [
    'PUT /api/v1/infrastructures/:name/grants/:group',
    { method: 'PUT', path: '/api/v1/infrastructures/infra-a/grants/team-a', body: { rights: ['view'] } },
  ],
  [
    'PUT /api/v1/services/:name/grants/:group',
    { method: 'PUT', path: '/api/v1/services/svc-a/grants/team-a', body: { rights: ['read'] } },
  ],
  [
    'PUT /api/v1/secrets/:name/grants/:group',
    { method: 'PUT', path: '/api/v1/secrets/pw-a/grants/team-a', body: { rights: ['use'] } },
  ],
  [
    'POST /api/v1/sessions',
    {
      method: 'POST',
      path: '/api/v1/sessions',
      body: { username: 'alice', password: `${GOOD_PASSWORD} alice` },
      as: 'none',
    },
  ],
  [
    'POST /api/v1/tokens',
    { method: 'POST', path: '/api/v1/tokens', body: { name: 'tok-a', ops_access: true }, as: 'user' },
  ],
  ['POST /api/v1/tokens/:id/roll', { method: 'POST', path: '/api/v1/tokens/{token}/roll', body: {}, as: 'user' }],
  ['DELETE /api/v1/tokens/:id', { method: 'DELETE', path: '/api/v1/tokens/{token}', as: 'user' }],
  [
    'POST /api/v1/cli-login/approve',
    {
      method: 'POST',
      path: '/api/v1/cli-login/approve',
      // RFC 7636 appendix B: the challenge of the verifier below.
      body: {
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        token: { name: 'cli-a', ops_access: true },
      },
      as: 'user',
    },
  ],
  [
    'POST /api/v1/cli-login/token',
    {
      method: 'POST',
      path: '/api/v1/cli-login/token',
      body: { code: '{code}', code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' },
      as: 'none',
    },
  ],
  ['DELETE /api/v1/sessions/current', { method: 'DELETE', path: '/api/v1/sessions/current', as: 'session-to-end' }],
  ['GET /api/v1/issue-jwt', { method: 'GET', path: '/api/v1/issue-jwt?deployment=dep-a' }],
  ['POST /api/v1/issue-jwt', { method: 'POST', path: '/api/v1/issue-jwt', body: { deployment: 'dep-a' } }],
  ['POST /api/v1/jwt-revocations', { method: 'POST', path: '/api/v1/jwt-revocations', body: { deployment: 'dep-a' } }],
  ['POST /api/v1/signing-keys/rotate', { method: 'POST', path: '/api/v1/signing-keys/rotate' }],
  [
    'PUT /api/v1/users/:username/password',
    {
      method: 'PUT',
      path: '/api/v1/users/alice/password',
      body: { current_password: `${GOOD_PASSWORD} alice`, password: `${GOOD_PASSWORD} alice 2` },
      as: 'user',
    },
  ],
  [
    'POST /api/v1/users/:username/password-reset',
    { method: 'POST', path: '/api/v1/users/alice/password-reset', body: { password: `${GOOD_PASSWORD} alice 3` } },
  ],
  ['POST /api/v1/users/:username/disable', { method: 'POST', path: '/api/v1/users/alice/disable' }],
  ['POST /api/v1/users/:username/enable', { method: 'POST', path: '/api/v1/users/alice/enable' }],
  ['DELETE /api/v1/secrets/:name/grants/:group', { method: 'DELETE', path: '/api/v1/secrets/pw-a/grants/team-a' }],
  ['DELETE /api/v1/services/:name/grants/:group', { method: 'DELETE', path: '/api/v1/services/svc-a/grants/team-a' }],
  [
    'DELETE /api/v1/infrastructures/:name/grants/:group',
    { method: 'DELETE', path: '/api/v1/infrastructures/infra-a/grants/team-a' },
  ],
  ['DELETE /api/v1/groups/:name/members/:username', { method: 'DELETE', path: '/api/v1/groups/team-a/members/alice' }],
  ['DELETE /api/v1/groups/:name', { method: 'DELETE', path: '/api/v1/groups/team-a' }],
  ['DELETE /api/v1/users/:username', { method: 'DELETE', path: '/api/v1/users/alice' }],
  ['DELETE /api/v1/deployments/:name', { method: 'DELETE', path: '/api/v1/deployments/dep-a' }],
  ['DELETE /api/v1/services/:name/versions/:version', { method: 'DELETE', path: '/api/v1/services/svc-a/versions/2' }],
  ['DELETE /api/v1/services/:name', { method: 'DELETE', path: '/api/v1/services/svc-a' }],
  ['DELETE /api/v1/infrastructures/:name', { method: 'DELETE', path: '/api/v1/infrastructures/infra-a' }],
  ['DELETE /api/v1/secrets/:name', { method: 'DELETE', path: '/api/v1/secrets/pw-a' }],
  // Last: these replace the node's inference key (its management key stays).
  ['GET /token', { method: 'GET', path: '/token?type=inference', as: 'api' }],
  ['POST /token', { method: 'POST', path: '/token?type=inference', as: 'api' }],
];

/** Request ids whose audit record the store refuses (a trigger), to prove the change goes with it. */
const DOOMED = 'doomed-';

/** Changes that live outside the store (in memory, or a token handed out): no rows to compare. */
const OUTSIDE_STORE = new Set(['GET /token', 'POST /token', 'GET /api/v1/issue-jwt', 'POST /api/v1/issue-jwt']);

describe('every change route', () => {
  it('has a case here (a new change route must be held to the audit rule)', async () => {
    const t = await startTestNode();
    try {
      expect([...changeRoutesOf(t.node.management)].sort()).toEqual(CASES.map(([route]) => route).sort());
    } finally {
      await t.close();
    }
  });
});

describe.each(STORE_BACKENDS)('a change and its audit record commit together on $name', (backend) => {
  const node = nodeOn(backend);
  let t: TestNode;
  beforeAll(async () => {
    t = node();
    // Nothing reaches the store through the batch in this file: only what committed with its change.
    t.node.audit.flush = async () => {};
    const db = t.node.store.db;
    if (t.node.store.dialect === 'postgres') {
      await sql`create function refuse_doomed() returns trigger language plpgsql as $$
        begin
          if new.request_id like 'doomed-%' then raise exception 'audit record refused'; end if;
          return new;
        end $$`.execute(db);
      await sql`create trigger refuse_doomed before insert on audit_log for each row execute function refuse_doomed()`.execute(
        db,
      );
    } else {
      await sql`create trigger refuse_doomed before insert on audit_log
        when new.request_id like 'doomed-%' begin select raise(abort, 'audit record refused'); end`.execute(db);
    }
  });

  /**
   * Every table but the audit log and the replicas' registry (heartbeats move on their own), as
   * rows: what a refused change must leave as it was.
   */
  async function snapshot(): Promise<string> {
    const tables = (await t.node.store.db.introspection.getTables())
      .map((table) => table.name)
      .filter((name) => name !== 'audit_log' && name !== 'replicas' && !name.startsWith('kysely_'))
      .sort();
    const out: Record<string, unknown[]> = {};
    for (const table of tables) {
      const rows = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(t.node.store.db);
      out[table] = rows.rows.map((r) => JSON.stringify(r)).sort();
    }
    return JSON.stringify(out);
  }

  it('each is recorded when its answer arrives, and refused whole when its record cannot be written', async () => {
    const keyFile = () => JSON.parse(readFileSync(join(t.dir, 'key_file.json'), 'utf8'));
    const ids: Record<string, string> = {};
    let userSession = '';
    let sessionToEnd = '';
    const send = async (call: Call, requestId: string) => {
      const credential = {
        management: t.keys.management,
        user: userSession,
        api: keyFile().API.key as string,
        none: undefined,
        'session-to-end': sessionToEnd,
      }[call.as ?? 'management'];
      const fill = (text: string) => text.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? '');
      const path = fill(call.path);
      const res = await fetch(`${t.node.urls.management}${path}`, {
        method: call.method,
        headers: {
          'x-request-id': requestId,
          ...(credential ? { authorization: `Bearer ${credential}` } : {}),
          ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: call.body === undefined ? undefined : fill(JSON.stringify(call.body)),
      });
      return { status: res.status, text: await res.text() };
    };
    for (const [i, [route, call]] of CASES.entries()) {
      // First with a record the store refuses: the change must not happen, nor be answered.
      const before = await snapshot();
      const refused = await send(call, `${DOOMED}${i}`);
      expect(refused.status, `${route}: ${refused.text}`).toBe(500);
      expect(refused.text, route).not.toMatch(/mg[a-z]_|eyJ/);
      if (!OUTSIDE_STORE.has(route)) expect(await snapshot(), `${route} changed the store`).toBe(before);

      const requestId = `change-${i}`;
      const done = await send(call, requestId);
      expect(done.status, `${route}: ${done.text}`).toBeLessThan(300);
      const rows = await t.node.store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('request_id', 'in', [requestId, `${DOOMED}${i}`])
        .execute();
      expect(
        rows.map((r) => [r.request_id, r.outcome, r.status]),
        route,
      ).toEqual([[requestId, 'allowed', done.status]]);

      const body = done.text ? JSON.parse(done.text) : {};
      if (route === 'POST /api/v1/api-keys') ids.key = body.api_keys[0].id;
      if (route === 'POST /api/v1/api-keys/:id/roll') ids.key = body.id ?? body.api_key?.id ?? ids.key;
      if (route === 'POST /api/v1/tokens') ids.token = body.id;
      if (route === 'POST /api/v1/cli-login/approve') ids.code = body.code;
      if (route === 'POST /api/v1/tokens/:id/roll') ids.token = body.id ?? body.token?.id ?? ids.token;
      if (route === 'POST /api/v1/sessions') {
        userSession = body.token;
        const again = await send(call, `session-${i}`);
        sessionToEnd = JSON.parse(again.text).token;
      }
    }
  }, 120_000);
});
