import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepAudit } from '../src/controlplane/audit/retention.js';
import { insertAuditRecords } from '../src/store/audit.js';
import { openStore } from '../src/store/database.js';
import { type AuditRow, allAuditRecords, auditPage, recordsOf, waitForAudit } from './helpers/audit.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { call } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCli, runCliToEnd } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

const DAY = 86_400_000;

/** A management request with a chosen request id, so the test can find its record. */
async function send(t: TestNode, method: string, path: string, requestId: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return call(`${t.node.urls.management}/api/v1${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** A data-plane request to `/<deployment>/predict` with a chosen request id. */
function invoke(t: TestNode, deployment: string, requestId: string, authorization?: string, localAddress?: string) {
  return call(`${t.node.urls.inference}/${deployment}/predict`, {
    method: 'POST',
    headers: { 'x-request-id': requestId, ...(authorization ? { authorization } : {}) },
    body: '{}',
    ...(localAddress ? { localAddress } : {}),
  });
}

describe.each(STORE_BACKENDS)('X4 audit log on $name', ({ name, setup }) => {
  let t: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  let overrides: Record<string, string>;
  let alphaKey: string;
  let betaKey: string;
  const tag = name === 'SQLite' ? 's' : 'p';

  beforeAll(async () => {
    ({ overrides, drop } = await setup());
    up = await recordingUpstream('audit');
    t = await startTestNode({ ...overrides, failure_limit: '2', failure_window_s: '60' });
    const alpha = await manage(t, 'POST', '/deployments', {
      name: 'alpha',
      upstream: up.url,
      access: 'protected',
      api_keys: 1,
    });
    expect(alpha.status, JSON.stringify(alpha.body)).toBe(201);
    alphaKey = alpha.body.api_keys[0].key;
    const beta = await manage(t, 'POST', '/deployments', { name: 'beta', upstream: up.url, api_keys: 1 });
    betaKey = beta.body.api_keys[0].key;
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await drop?.();
  });

  it('records allowed management changes with actor, action, target, outcome, request id and address', async () => {
    const created = await send(t, 'POST', '/secrets', `${tag}-c1`, t.keys.management, { name: 'db-pass', value: 'x' });
    expect(created.status).toBe(201);
    const patched = await send(t, 'PATCH', '/deployments/alpha', `${tag}-c2`, t.keys.management, {
      upstream: up.url,
    });
    expect(patched.status).toBe(200);
    expect((await send(t, 'POST', '/deployments/alpha/redeploy', `${tag}-c3`, t.keys.management)).status).toBe(200);
    const version = await send(t, 'POST', '/services/alpha/versions', `${tag}-c4`, t.keys.management, {
      version: 'v2',
    });
    expect(version.status).toBe(201);

    const [create] = await recordsOf(t, `${tag}-c1`);
    expect(create).toMatchObject({
      actor: 'node:management',
      actor_kind: 'management_key',
      action: 'secret.create',
      target_kind: 'secret',
      target_name: 'db-pass',
      outcome: 'allowed',
      status: 201,
      code: null,
      listener: 'management',
      client_address: '127.0.0.1',
    });
    expect(Date.parse(create!.time)).not.toBeNaN();
    expect((await recordsOf(t, `${tag}-c2`))[0]).toMatchObject({
      action: 'deployment.update',
      target_name: 'alpha',
      outcome: 'allowed',
      status: 200,
    });
    expect((await recordsOf(t, `${tag}-c3`))[0]).toMatchObject({ action: 'deployment.redeploy', target_name: 'alpha' });
    expect((await recordsOf(t, `${tag}-c4`))[0]).toMatchObject({
      action: 'service.version.create',
      target_kind: 'service.version',
      target_name: 'alpha/v2',
    });
  });

  it('records failed changes with their error code, and does not record reads', async () => {
    expect((await send(t, 'DELETE', '/secrets/nope', `${tag}-f1`, t.keys.management)).status).toBe(404);
    expect((await send(t, 'POST', '/secrets', `${tag}-f2`, t.keys.management, { name: 'Bad Name!' })).status).toBe(400);
    expect((await send(t, 'GET', '/deployments', `${tag}-read`, t.keys.management)).status).toBe(200);
    expect((await send(t, 'GET', '/deployments/none', `${tag}-read404`, t.keys.management)).status).toBe(404);

    expect((await recordsOf(t, `${tag}-f1`))[0]).toMatchObject({
      action: 'secret.delete',
      target_name: 'nope',
      outcome: 'failed',
      status: 404,
      code: 'RESOURCE_NOT_FOUND',
    });
    // A refused create names no target: the body's name is only taken once the resource exists.
    expect((await recordsOf(t, `${tag}-f2`))[0]).toMatchObject({
      action: 'secret.create',
      target_name: null,
      outcome: 'failed',
      status: 400,
      code: 'VALIDATION_FAILED',
    });
    const all = await allAuditRecords(t);
    expect(all.filter((r) => r.request_id === `${tag}-read` || r.request_id === `${tag}-read404`)).toEqual([]);
  });

  it('records denied management attempts on any method, naming a verified but refused caller', async () => {
    expect((await send(t, 'DELETE', '/deployments/alpha', `${tag}-d1`)).status).toBe(401);
    expect((await send(t, 'GET', '/deployments', `${tag}-d2`, 'mgm_notavalidcredential')).status).toBe(401);
    expect((await send(t, 'POST', '/deployments/alpha/disable', `${tag}-d3`, t.keys.inference)).status).toBe(403);
    expect((await send(t, 'GET', '/audit', `${tag}-d4`, t.keys.inference)).status).toBe(403);

    expect((await recordsOf(t, `${tag}-d1`))[0]).toMatchObject({
      actor: 'anonymous',
      actor_kind: 'anonymous',
      action: 'deployment.delete',
      target_name: 'alpha',
      outcome: 'denied',
      status: 401,
      code: 'CREDENTIAL_MISSING',
    });
    expect((await recordsOf(t, `${tag}-d2`))[0]).toMatchObject({
      action: 'deployment.list',
      outcome: 'denied',
      status: 401,
      code: 'CREDENTIAL_MALFORMED',
    });
    expect((await recordsOf(t, `${tag}-d3`))[0]).toMatchObject({
      actor: 'node:inference',
      actor_kind: 'inference_key',
      action: 'deployment.disable',
      target_name: 'alpha',
      outcome: 'denied',
      status: 403,
      code: 'FORBIDDEN',
    });
    expect((await recordsOf(t, `${tag}-d4`))[0]).toMatchObject({ action: 'audit.list', status: 403 });
    // Nothing was disabled.
    expect((await manage(t, 'GET', '/deployments/alpha')).body.enabled).toBe(true);
  });

  it('records a node key rotation through /token', async () => {
    const rotated = await call(`${t.node.urls.management}/token?type=inference`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.api}`, 'x-request-id': `${tag}-tok` },
    });
    expect(rotated.status).toBe(200);
    expect((await recordsOf(t, `${tag}-tok`))[0]).toMatchObject({
      actor: 'node:API',
      action: 'node_key.rotate',
      target_kind: 'node_key',
      target_name: 'inference',
      outcome: 'allowed',
    });
  });

  it('records data-plane refusals (401, 403, 429) on the inference listener', async () => {
    expect((await invoke(t, 'alpha', `${tag}-i1`)).status).toBe(401);
    expect((await invoke(t, 'alpha', `${tag}-i2`, `Bearer ${betaKey}`)).status).toBe(403);
    // failure_limit is 2: two bad keys from one address, then 429.
    const bad = `Bearer ${alphaKey.slice(0, -6)}AAAAAA`;
    expect((await invoke(t, 'alpha', `${tag}-i3`, bad, '127.0.0.3')).status).toBe(401);
    expect((await invoke(t, 'alpha', `${tag}-i4`, bad, '127.0.0.3')).status).toBe(401);
    expect((await invoke(t, 'alpha', `${tag}-i5`, `Bearer ${alphaKey}`, '127.0.0.3')).status).toBe(429);
    // Allowed traffic and unknown deployments are not audit material.
    expect((await invoke(t, 'alpha', `${tag}-ok`, `Bearer ${alphaKey}`)).status).toBe(200);

    // A caller whose credential was proven is recorded as itself (issue 22, item 7): beta's key
    // refused on alpha. A locked-out address's credential is not even checked, so it stays
    // anonymous, like the credentials that prove nothing.
    const keyIds = await apiKeyIds(t);
    const expected: [string, number, string, string, string][] = [
      [`${tag}-i1`, 401, 'CREDENTIAL_MISSING', 'anonymous', 'anonymous'],
      [`${tag}-i2`, 403, 'FORBIDDEN', 'api_key', keyIds.beta!],
      [`${tag}-i3`, 401, 'CREDENTIAL_MALFORMED', 'anonymous', 'anonymous'],
      [`${tag}-i5`, 429, 'THROTTLED', 'anonymous', 'anonymous'],
    ];
    for (const [id, status, code, actorKind, actor] of expected) {
      expect((await recordsOf(t, id))[0], id).toMatchObject({
        actor_kind: actorKind,
        actor,
        action: 'deployment.invoke',
        target_kind: 'deployment',
        target_name: 'alpha',
        outcome: 'denied',
        status,
        code,
        listener: 'inference',
      });
    }
    expect((await recordsOf(t, `${tag}-i5`))[0]!.client_address).toBe('127.0.0.3');
    expect((await allAuditRecords(t)).filter((r) => r.request_id === `${tag}-ok`)).toEqual([]);
  });

  it('pages with an opaque cursor and filters by actor, action, target, outcome and time', async () => {
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
    for (const n of names) {
      expect(
        (await send(t, 'POST', '/secrets', `${tag}-page-${n}`, t.keys.management, { name: n, value: 'v' })).status,
      ).toBe(201);
    }
    await waitForAudit(t, 'action=secret.create', (rows) => names.every((n) => rows.some((r) => r.target_name === n)));

    // Newest first, three at a time, until `next` is null.
    const seen: AuditRow[] = [];
    let page = await auditPage(t, 'action=secret.create&limit=3');
    const sizes: number[] = [];
    for (;;) {
      expect(page.status).toBe(200);
      sizes.push(page.body.records.length);
      seen.push(...page.body.records);
      if (page.body.next === null) break;
      expect(page.body.next).not.toMatch(/secret|create|\d{4}-/);
      page = await auditPage(t, `action=secret.create&limit=3&cursor=${encodeURIComponent(page.body.next)}`);
    }
    const ids = seen.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(seen.filter((r) => names.includes(r.target_name ?? '')).map((r) => r.target_name)).toEqual(
      [...names].reverse(),
    );
    expect(sizes.slice(0, -1).every((s) => s === 3)).toBe(true);

    const byTarget = await allAuditRecords(t, 'target=p3');
    expect(byTarget.map((r) => r.action)).toEqual(['secret.create']);
    const denied = await allAuditRecords(t, 'outcome=denied');
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((r) => r.outcome === 'denied')).toBe(true);
    const inference = await allAuditRecords(t, 'actor=node:inference');
    expect(inference.length).toBeGreaterThan(0);
    expect(inference.every((r) => r.actor === 'node:inference')).toBe(true);
    const deployments = await allAuditRecords(t, 'action=deployment.*');
    expect(new Set(deployments.map((r) => r.action.split('.')[0]))).toEqual(new Set(['deployment']));
    expect(deployments.some((r) => r.action === 'deployment.redeploy')).toBe(true);

    const [p4] = await allAuditRecords(t, 'target=p4');
    const since = await allAuditRecords(t, `action=secret.create&since=${encodeURIComponent(p4!.time)}`);
    expect(since.every((r) => r.time >= p4!.time)).toBe(true);
    expect(since.map((r) => r.target_name)).toContain('p7');
    expect(since.map((r) => r.target_name)).not.toContain('p1');
    const until = await allAuditRecords(t, `action=secret.create&until=${encodeURIComponent(p4!.time)}`);
    expect(until.map((r) => r.target_name)).toContain('p1');
    expect(until.map((r) => r.target_name)).not.toContain('p4');
    expect(await allAuditRecords(t, `since=${new Date(Date.now() + DAY).toISOString()}`)).toEqual([]);
  });

  it('GET /api/v1/audit is in the OpenAPI document with its filters', async () => {
    const doc = (await call(`${t.node.urls.management}/api/v1/openapi.json`)).json;
    const op = doc.paths['/api/v1/audit']?.get;
    expect(op).toBeDefined();
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual(
      [
        'action',
        'actor',
        'cursor',
        'limit',
        'listener',
        'order',
        'outcome',
        'since',
        'target',
        'target_kind',
        'until',
      ].sort(),
    );
  });

  it('refuses bad filters and cursors with 400 VALIDATION_FAILED', async () => {
    for (const query of [
      'since=yesterday',
      'until=2026-13-45T99:00:00Z',
      'limit=0',
      'limit=5000',
      'limit=ten',
      'outcome=maybe',
      'cursor=not-a-cursor',
      `cursor=${Buffer.from('{"o":"asc","id":-1}').toString('base64url')}`,
      'order=sideways',
      'password=x',
    ]) {
      const res = await auditPage(t, query);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('VALIDATION_FAILED');
    }
  });

  it('ascending pages always carry a cursor, so polling with it follows the log', async () => {
    const first = await auditPage(t, `order=asc&since=${encodeURIComponent(new Date().toISOString())}`);
    expect(first.body.records).toEqual([]);
    expect(first.body.next).toEqual(expect.any(String));
    await send(t, 'DELETE', '/secrets/p1', `${tag}-follow`, t.keys.management);
    const later = await waitForAudit(t, '', (rows) => rows.some((r) => r.request_id === `${tag}-follow`));
    expect(later.length).toBeGreaterThan(0);
    const next = await auditPage(t, `cursor=${encodeURIComponent(first.body.next)}`);
    expect(next.body.records.map((r: AuditRow) => r.request_id)).toContain(`${tag}-follow`);
  });

  it('records admin-key CLI commands (listener cli), and the CLI prints the log as JSON', async () => {
    const storeFlags = overrides.database_url
      ? ['--database-url', overrides.database_url]
      : ['--data-dir', join(t.dir, 'data')];
    const created = await runCliToEnd(['admin-key-create', '-o', 'json', ...storeFlags]);
    expect(created.code).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    expect((await runCliToEnd(['admin-keys-list', ...storeFlags])).code).toBe(0);
    expect((await runCliToEnd(['admin-key-delete', key, ...storeFlags])).code).toBe(0);
    expect((await runCliToEnd(['admin-key-delete', key, ...storeFlags])).code).not.toBe(0);

    const cli = await waitForAudit(t, 'listener=cli', (rows) => rows.length >= 4);
    expect(cli.map((r) => [r.action, r.target_name, r.outcome, r.code])).toEqual([
      ['admin_key.create', id, 'allowed', null],
      ['admin_key.list', null, 'allowed', null],
      ['admin_key.delete', id, 'allowed', null],
      // The argument was the key itself: never recorded.
      ['admin_key.delete', '[invalid]', 'failed', 'RESOURCE_NOT_FOUND'],
    ]);
    expect(cli.every((r) => r.actor_kind === 'os_user' && r.request_id === null)).toBe(true);

    const env = { MODELGATE_API_TOKEN: t.keys.management };
    const printed = await runCliToEnd(
      ['audit', '-o', 'json', '--listener', 'cli', '--endpoint', t.node.urls.management],
      { env },
    );
    expect(printed.code, printed.stderr).toBe(0);
    const body = JSON.parse(printed.stdout) as { items: AuditRow[]; next_cursor: string | null };
    expect(body.items.map((r) => r.action)).toEqual([
      'admin_key.delete',
      'admin_key.delete',
      'admin_key.list',
      'admin_key.create',
    ]);
    const table = await runCliToEnd(['audit', '--action', 'deployment.*', '--endpoint', t.node.urls.management], {
      env,
    });
    expect(table.stdout).toMatch(/^TIME\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME\s+STATUS\s+CODE\s+ADDRESS$/m);
    expect(table.stdout).toMatch(/deployment\.redeploy\s+alpha\s+allowed\s+200/);
  });

  it('modelgate audit --follow prints new records as they are written', async () => {
    const follower = runCli(
      ['audit', '--follow', '-o', 'json', '--interval', '0.2', '--endpoint', t.node.urls.management],
      { env: { MODELGATE_API_TOKEN: t.keys.management } },
    );
    try {
      // Until a first poll went out, a record could land before `since`: keep poking until seen.
      const seen = follower.waitFor(new RegExp(`"request_id":"${tag}-followed`));
      for (let i = 0; i < 50 && !follower.lines.some((l) => l.includes(`${tag}-followed`)); i++) {
        await send(t, 'POST', '/deployments/beta/enable', `${tag}-followed-${i}`, t.keys.management);
        await new Promise((r) => setTimeout(r, 200));
      }
      const line = JSON.parse(await seen) as AuditRow;
      expect(line).toMatchObject({ action: 'deployment.enable', target_name: 'beta', outcome: 'allowed' });
    } finally {
      await follower.stop();
    }
  });

  it('retention deletes records older than audit_retention_days (time injected)', async () => {
    const now = Date.now();
    const old = (days: number, target: string) => ({
      time: new Date(now - days * DAY).toISOString(),
      actor: 'node:management',
      actor_kind: 'management_key',
      action: 'deployment.delete',
      target_kind: 'deployment',
      target_name: target,
      outcome: 'allowed' as const,
      status: 204,
      code: null,
      request_id: null,
      client_address: null,
      listener: 'management' as const,
    });
    await insertAuditRecords(t.node.store, [old(120, 'ancient'), old(89, 'recent')]);
    expect((await allAuditRecords(t, 'target=ancient')).length).toBe(1);
    expect(await sweepAudit(t.node.store, 90, now)).toBe(1);
    expect(await allAuditRecords(t, 'target=ancient')).toEqual([]);
    expect((await allAuditRecords(t, 'target=recent')).length).toBe(1);
    // Ten days on, the 89-day-old record is past 90 days too.
    expect(await sweepAudit(t.node.store, 90, now + 10 * DAY)).toBe(1);
    expect(await allAuditRecords(t, 'target=recent')).toEqual([]);
    // 0 keeps everything.
    await insertAuditRecords(t.node.store, [old(5000, 'kept')]);
    expect(await sweepAudit(t.node.store, 0, now)).toBe(0);
    expect((await allAuditRecords(t, 'target=kept')).length).toBe(1);
  });
});

describe('X4 audit retention at start', () => {
  it('a starting node deletes records older than audit_retention_days', async () => {
    const db = await createScratchDatabase();
    try {
      const store = await openStore({ dataDir: '', databaseUrl: db.url });
      const record = (time: number, target: string) => ({
        time: new Date(time).toISOString(),
        actor: 'x',
        actor_kind: 'admin_key',
        action: 'secret.delete',
        target_kind: 'secret',
        target_name: target,
        outcome: 'allowed' as const,
        status: 204,
        code: null,
        request_id: null,
        client_address: null,
        listener: 'management' as const,
      });
      await insertAuditRecords(store, [record(Date.now() - 3 * DAY, 'stale'), record(Date.now() - DAY / 2, 'fresh')]);
      await store.close();
      const t = await startTestNode({ database_url: db.url, audit_retention_days: '2' });
      try {
        await waitForAudit(t, 'action=secret.delete', (rows) => rows.every((r) => r.target_name !== 'stale'));
        expect((await allAuditRecords(t, 'target=fresh')).length).toBe(1);
      } finally {
        await t.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('X4 audit of a data-plane flood', () => {
  let t: TestNode;
  let up: TestUpstream;
  beforeAll(async () => {
    up = await recordingUpstream('flood');
    // One refusal a second on average, bursts of 4: a flood of 40 must overflow it.
    t = await startTestNode({ audit_refusals_per_second: '1' });
    await manage(t, 'POST', '/deployments', { name: 'flooded', upstream: up.url, access: 'protected' });
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
  });

  it('keeps refusals within the bound and counts the rest in modelgate_audit_dropped_total', async () => {
    const sent = 40;
    const statuses = await Promise.all(
      Array.from({ length: sent }, (_, i) => invoke(t, 'flooded', `flood-${i}`).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 401)).toBe(true);
    const metric = async () => {
      const text = (await call(`${t.node.urls.metrics}/metrics`)).text;
      return Number(/^modelgate_audit_dropped_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
    };
    // Every refusal is either recorded or counted as dropped, never both, never neither.
    const rows = await waitForAudit(t, 'listener=inference', (r) => r.length > 0);
    const dropped = await metric();
    expect(dropped).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(sent);
    await waitForAudit(t, 'listener=inference', (r) => r.length + dropped === sent);
    expect(await metric()).toBe(dropped);
  });
});

describe('X4 audit on shutdown', () => {
  it('records still queued when the node stops are written before the store closes', async () => {
    const t = await startTestNode();
    const names = Array.from({ length: 20 }, (_, i) => `late-${i}`);
    // Fired together and the node closed at once: most are still queued, none may be lost.
    const statuses = await Promise.all(
      names.map((name) => manage(t, 'POST', '/secrets', { name, value: 'v' }).then((r) => r.status)),
    );
    expect(statuses.every((s) => s === 201)).toBe(true);
    await t.close();
    const store = await openStore({ dataDir: join(t.dir, 'data'), databaseUrl: '' });
    try {
      const rows = await store.db
        .selectFrom('audit_log')
        .select('target_name')
        .where('action', '=', 'secret.create')
        .execute();
      expect(rows.map((r) => r.target_name).sort()).toEqual([...names].sort());
    } finally {
      await store.close();
    }
  });
});

/** The id of each deployment's (first) API key, by deployment name. */
async function apiKeyIds(t: TestNode): Promise<Record<string, string>> {
  const res = await fetch(`${t.node.urls.management}/api/v1/api-keys`, {
    headers: { authorization: `Bearer ${t.keys.management}` },
  });
  const body = (await res.json()) as { api_keys: { id: string; deployment?: string | null }[] };
  const ids: Record<string, string> = {};
  for (const key of body.api_keys) if (key.deployment && !(key.deployment in ids)) ids[key.deployment] = key.id;
  return ids;
}
