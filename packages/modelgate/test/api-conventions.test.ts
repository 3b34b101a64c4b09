import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPage } from './helpers/audit.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { call } from './helpers/http.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD } from './helpers/people.js';

/** Walks a list with `limit`, following `next_cursor`; returns every page's items in order. */
async function walk(t: TestNode, path: string, key: string, limit: number): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let pages = 0;
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const query = `limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const res = await api(t, t.keys.management, 'GET', `${path}${sep}${query}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body[key].length).toBeLessThanOrEqual(limit);
    items.push(...res.body[key]);
    cursor = res.body.next_cursor;
    pages += 1;
    expect(pages).toBeLessThan(100);
  } while (cursor !== null);
  return { items, pages };
}

describe('API conventions', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('a known path with a method it does not take', () => {
    it.each([
      ['DELETE', '/api/v1/whoami', 'GET, HEAD'],
      ['PUT', '/api/v1/deployments', 'GET, HEAD, POST'],
      ['POST', '/api/v1/deployments/some-name', 'DELETE, GET, HEAD, PATCH'],
      ['GET', '/api/v1/signing-keys/rotate', 'POST'],
      ['PATCH', '/api/v1/groups/g/members/u', 'DELETE, PUT'],
      ['DELETE', '/token?type=management', 'GET, POST'],
    ])('%s %s → 405 with Allow: %s and the error envelope', async (method, path, allow) => {
      const res = await call(`${t.node.urls.management}${path}`, {
        method,
        headers: { authorization: `Bearer ${t.keys.management}` },
      });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.json.error.code).toBe('METHOD_NOT_ALLOWED');
      expect(res.json.error.message).toContain(allow);
      expect(res.json.error.request_id).toBe(res.headers['x-request-id']);
    });

    it('an unknown path stays 404 ROUTE_NOT_FOUND, without Allow', async () => {
      const res = await call(`${t.node.urls.management}/api/v1/nothing-here`, { method: 'DELETE' });
      expect(res.status).toBe(404);
      expect(res.headers.allow).toBeUndefined();
      expect(res.json.error.code).toBe('ROUTE_NOT_FOUND');
    });
  });

  describe('a validation error names the offending field', () => {
    const m = () => t.keys.management;
    it.each([
      ['missing', 'POST', '/deployments', { name: 'no-upstream' }, 'upstream', /body\.upstream is required/],
      [
        'wrong type',
        'POST',
        '/deployments',
        { name: 'typed', upstream: 7 },
        'upstream',
        /body\.upstream must be string/,
      ],
      [
        'wrong type, nested',
        'POST',
        '/deployments',
        { name: 'nested', upstream: 'http://127.0.0.1:9', auth: { api_keys: 'yes' } },
        'auth.api_keys',
        /body\.auth\.api_keys must be boolean/,
      ],
      [
        'extra',
        'POST',
        '/deployments',
        { name: 'extra', upstream: 'http://127.0.0.1:9', colour: 'red' },
        'colour',
        /body\.colour is not allowed/,
      ],
      [
        'bad format (schema)',
        'POST',
        '/users',
        { username: 'Not A Name', password: GOOD_PASSWORD },
        'username',
        /body\.username must match pattern/,
      ],
      [
        'bad format (checked by the handler)',
        'POST',
        '/deployments',
        { name: 'ftp', upstream: 'ftp://127.0.0.1/model' },
        'upstream',
        /upstream must be an http:\/\/ or https:\/\/ URL/,
      ],
      [
        'bad format in the query',
        'GET',
        '/deployments?limit=ten',
        undefined,
        'limit',
        /query\.limit must match pattern/,
      ],
      ['extra in the query', 'GET', '/users?colour=red', undefined, 'colour', /query\.colour is not allowed/],
    ])('%s: %s %s', async (_kind, method, path, body, field, message) => {
      const res = await api(t, m(), method, path, body);
      expect(res.status, res.text).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.field).toBe(field);
      expect(res.body.error.message).toMatch(message);
      expect(res.body.error.details.join('\n')).toMatch(message);
    });

    it('names every problem in details, the first in field', async () => {
      const res = await api(t, m(), 'POST', '/deployments', { upstream: 1, colour: 'red' });
      expect(res.status).toBe(400);
      expect(res.body.error.details).toEqual(
        expect.arrayContaining([
          'body.name is required',
          'body.colour is not allowed here',
          'body.upstream must be string',
        ]),
      );
      expect(['name', 'colour', 'upstream']).toContain(res.body.error.field);
    });
  });

  describe('an empty body on a POST that takes none', () => {
    it.each([
      ['Content-Type: application/json', { 'content-type': 'application/json' }],
      ['no Content-Type', {}],
    ])('is accepted with %s', async (_label, headers) => {
      await deploy(t, { name: `empty-${Object.keys(headers).length}`, upstream: 'http://127.0.0.1:9' });
      const name = `empty-${Object.keys(headers).length}`;
      const auth = { authorization: `Bearer ${t.keys.management}`, ...headers };
      for (const [path, status] of [
        [`/api/v1/deployments/${name}/redeploy`, 200],
        [`/api/v1/deployments/${name}/disable`, 200],
        [`/api/v1/deployments/${name}/enable`, 200],
        ['/api/v1/signing-keys/rotate', 201],
        [`/api/v1/issue-jwt?deployment=${name}`, 200],
      ] as const) {
        const res = await call(`${t.node.urls.management}${path}`, { method: 'POST', headers: auth, body: '' });
        expect(res.status, `${path} ${res.text}`).toBe(status);
      }
      // TorchServe's token API (the inference key is not used by this file) and a DELETE alike.
      const token = await call(`${t.node.urls.management}/token?type=inference`, {
        method: 'POST',
        headers: { ...headers, authorization: `Bearer ${t.keys.api}` },
        body: '',
      });
      expect(token.status, token.text).toBe(200);
      const deleted = await call(`${t.node.urls.management}/api/v1/deployments/${name}`, {
        method: 'DELETE',
        headers: auth,
        body: '',
      });
      expect(deleted.status, deleted.text).toBe(204);
    });

    it('a route that needs a body says so (400 VALIDATION_FAILED), and bad JSON is still 400 BAD_REQUEST', async () => {
      const headers = { authorization: `Bearer ${t.keys.management}`, 'content-type': 'application/json' };
      const url = `${t.node.urls.management}/api/v1/deployments`;
      const empty = await call(url, { method: 'POST', headers, body: '' });
      expect([empty.status, empty.json.error.code]).toEqual([400, 'VALIDATION_FAILED']);
      expect(empty.json.error.message).toMatch(/body must be object/);
      const bad = await call(url, { method: 'POST', headers, body: '{"name":' });
      expect([bad.status, bad.json.error.code]).toEqual([400, 'BAD_REQUEST']);
      const poisoned = await call(url, { method: 'POST', headers, body: '{"__proto__":{"x":1}}' });
      expect(poisoned.status).toBe(400);
    });
  });
});

describe.each(STORE_BACKENDS)('list paging on $name', (backend) => {
  let t: TestNode;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const store = await backend.setup();
    drop = store.drop;
    t = await startTestNode(store.overrides);
  });
  afterAll(async () => {
    await t?.close();
    await drop?.();
  });

  it('deployments: limit and next_cursor walk every item exactly once, in name order', async () => {
    // Names whose order differs between byte order and a linguistic collation (`a-b` vs `ab`).
    const names = ['pg-b', 'pgb', 'pg-a', 'pga', 'pg1', 'pg-9', 'pgz'];
    for (const name of names) await deploy(t, { name, upstream: 'http://127.0.0.1:9', api_keys: 1 });
    const { items, pages } = await walk(t, '/deployments', 'deployments', 3);
    const walked = items.map((d) => d.name).filter((n: string) => n.startsWith('pg'));
    expect(walked).toEqual([...names].sort());
    expect(pages).toBeGreaterThanOrEqual(3);
    const whole = await api(t, t.keys.management, 'GET', '/deployments');
    expect(whole.body.next_cursor).toBeNull();
    expect(items).toEqual(whole.body.deployments);
  });

  it('api keys, users, groups, secrets, services, infrastructures and versions page the same way', async () => {
    for (let i = 0; i < 5; i++) {
      const user = await api(t, t.keys.management, 'POST', '/users', {
        username: `pager-${i}`,
        password: `${GOOD_PASSWORD} ${i}`,
      });
      expect(user.status, user.text).toBe(201);
      await api(t, t.keys.management, 'POST', '/groups', { name: `team-${i}` });
      await api(t, t.keys.management, 'POST', '/secrets', { name: `secret-${i}`, generate: true });
      await api(t, t.keys.management, 'POST', '/infrastructures', { name: `infra-${i}` });
      await api(t, t.keys.management, 'POST', '/services/pg-a/versions', { version: `2.${i}` });
      await api(t, t.keys.management, 'PUT', `/services/pg-a/grants/team-${i}`, { rights: ['read'] });
    }
    await api(t, t.keys.management, 'POST', '/api-keys', { deployment: 'pga', count: 4 });
    for (const [path, key, id] of [
      ['/api-keys', 'api_keys', 'id'],
      ['/api-keys?deployment=pga', 'api_keys', 'id'],
      ['/users', 'users', 'username'],
      ['/groups', 'groups', 'name'],
      ['/secrets', 'secrets', 'name'],
      ['/services', 'services', 'name'],
      ['/infrastructures', 'infrastructures', 'name'],
      ['/services/pg-a/versions', 'versions', 'version'],
      ['/services/pg-a/grants', 'grants', 'group'],
    ] as const) {
      const whole = await api(t, t.keys.management, 'GET', path);
      expect(whole.body.next_cursor, path).toBeNull();
      expect(whole.body[key].length, path).toBeGreaterThanOrEqual(5);
      const { items } = await walk(t, path, key, 2);
      expect(
        items.map((x) => x[id]),
        path,
      ).toEqual(whole.body[key].map((x: any) => x[id]));
      expect(new Set(items.map((x) => x[id])).size, path).toBe(items.length);
    }
  });

  it('a page walk is not thrown off by a deletion between pages', async () => {
    const first = await api(t, t.keys.management, 'GET', '/deployments?limit=2');
    const seen: string[] = first.body.deployments.map((d: any) => d.name);
    // Delete the item the cursor points after: the next page still starts right after its key.
    expect((await api(t, t.keys.management, 'DELETE', `/deployments/${seen[1]}`)).status).toBe(204);
    const rest = await api(
      t,
      t.keys.management,
      'GET',
      `/deployments?cursor=${encodeURIComponent(first.body.next_cursor)}`,
    );
    const all = (await api(t, t.keys.management, 'GET', '/deployments')).body.deployments.map((d: any) => d.name);
    expect(rest.body.deployments.map((d: any) => d.name)).toEqual(all.filter((n: string) => !seen.includes(n)));
  });

  it('the audit log walks with next_cursor too', async () => {
    // The audit writer batches in the background: wait until the earlier changes are recorded.
    const deadline = Date.now() + 15_000;
    while ((await auditPage(t, 'order=asc&limit=8')).body.records.length < 8 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const all: number[] = [];
    let page = await auditPage(t, 'order=asc&limit=7');
    while (page.body.records.length > 0) {
      all.push(...page.body.records.map((r: any) => r.id));
      expect(page.body.next).toBe(page.body.next_cursor);
      page = await auditPage(t, `limit=7&cursor=${encodeURIComponent(page.body.next_cursor)}`);
    }
    expect(all.length).toBeGreaterThan(7);
    expect(new Set(all).size).toBe(all.length);
    expect([...all].sort((a, b) => a - b)).toEqual(all);
  });

  it('a bad cursor or limit is 400 VALIDATION_FAILED naming the field', async () => {
    const usersCursor = (await api(t, t.keys.management, 'GET', '/users?limit=1')).body.next_cursor;
    for (const [query, field] of [
      ['cursor=not-a-cursor', 'cursor'],
      [`cursor=${Buffer.from('{"l":"deployments","a":"","o":"asc"}').toString('base64url')}`, 'cursor'],
      [`cursor=${encodeURIComponent(usersCursor)}`, 'cursor'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=-1', 'limit'],
    ]) {
      const res = await api(t, t.keys.management, 'GET', `/deployments?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code, query).toBe('VALIDATION_FAILED');
      expect(res.body.error.field, query).toBe(field);
    }
    const audit = await auditPage(t, `cursor=${encodeURIComponent(usersCursor)}`);
    expect([audit.status, audit.body.error.field]).toEqual([400, 'cursor']);
  });
});
