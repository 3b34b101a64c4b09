import { type DemoServer, startDemoServer } from '@modelgate/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, rawRequest } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';

let t: TestNode;
let demo: DemoServer;

beforeAll(async () => {
  t = await startTestNode();
  demo = await startDemoServer();
});
afterAll(async () => {
  await t?.close();
  await demo?.close();
});

/**
 * Every operation in the served OpenAPI document that needs a credential (sign-in declares
 * `security: []`), with path parameters filled in.
 */
async function operations(): Promise<{ method: string; path: string }[]> {
  const doc = (await call(`${t.node.urls.management}/api/v1/openapi.json`)).json;
  const ops: { method: string; path: string }[] = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown[] }>>)) {
    for (const method of Object.keys(item)) {
      if (item[method]?.security?.length === 0) continue;
      ops.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'x') });
    }
  }
  return ops;
}

describe('the OpenAPI document', () => {
  it('is served without a credential and documents every resource', async () => {
    const res = await call(`${t.node.urls.management}/api/v1/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    for (const path of [
      '/api/v1/whoami',
      '/api/v1/deployments',
      '/api/v1/deployments/{name}/redeploy',
      '/api/v1/secrets',
      '/api/v1/api-keys',
      '/api/v1/infrastructures',
      '/api/v1/services/{name}/versions',
      '/api/v1/users',
      '/api/v1/groups',
      '/api/v1/groups/{name}/members/{username}',
      '/api/v1/sessions',
      '/api/v1/sessions/current',
      '/api/v1/infrastructures/{name}/grants/{group}',
      '/api/v1/services/{name}/grants/{group}',
      '/api/v1/secrets/{name}/grants/{group}',
      '/token',
    ]) {
      expect(Object.keys(res.json.paths)).toContain(path);
    }
  });
});

describe('the common auth cases, replayed on every route', () => {
  it('every operation: 401 + challenge without a credential, 403 with the inference key, never 500', async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(20);
    for (const [i, { method, path }] of ops.entries()) {
      const url = `${t.node.urls.management}${path}`;
      const anonymous = await call(url, { method });
      expect(anonymous.status, `${method} ${path} ${anonymous.text}`).toBe(401);
      expect(anonymous.headers['www-authenticate'], `${method} ${path}`).toMatch(/^Bearer realm="modelgate"/);
      const wrongKind = await call(url, { method, headers: { authorization: `Bearer ${t.keys.inference}` } });
      expect(wrongKind.status, `${method} ${path}`).toBe(403);
      const garbage = await call(url, {
        method,
        headers: { authorization: 'Bearer mgm_"><script>', 'content-type': 'application/json' },
        body: method === 'GET' || method === 'DELETE' ? undefined : '{',
        // A bad credential counts against its address: each route's guess comes from its own.
        localAddress: `127.0.3.${i + 1}`,
      });
      expect(garbage.status, `${method} ${path} ${garbage.text}`).toBe(401);
      expect(garbage.text).not.toContain('<script>');
    }
  });
});

describe('malformed requests on the management listener', () => {
  it('a malformed URL gets the registry body, never an echo of the URL', async () => {
    const res = await rawRequest(t.node.urls.management, 'GET /%zz?token=leak-me HTTP/1.1', []);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error.code).toBe('PATH_INVALID');
    expect(res.body).not.toContain('leak-me');
  });
});

describe('deployments API', () => {
  it('creates what is missing and reports it', async () => {
    const res = await manage(t, 'POST', '/deployments', { name: 'made', upstream: demo.url });
    expect(res.status).toBe(201);
    expect(res.body.created).toEqual(['infrastructure default', 'service made', 'version made@1']);
    expect(res.body.deployment).toMatchObject({
      name: 'made',
      access: 'protected', // default_deployment_access
      enabled: true,
      revision: 1,
      infrastructure: 'default',
      service: 'made',
      version: '1',
      auth_source: 'version',
    });
    const again = await manage(t, 'POST', '/deployments', { name: 'made', upstream: demo.url });
    expect([again.status, again.body.error.code]).toEqual([409, 'RESOURCE_CONFLICT']);
  });

  it.each([
    ['missing upstream', { name: 'x1' }],
    ['uppercase name', { name: 'Bad', upstream: 'http://127.0.0.1:1' }],
    ['reserved name', { name: '_health', upstream: 'http://127.0.0.1:1' }],
    ['path in name', { name: '../etc', upstream: 'http://127.0.0.1:1' }],
    ['credentials in upstream', { name: 'x2', upstream: 'http://user:pw@127.0.0.1:1' }],
    ['non-http upstream', { name: 'x3', upstream: 'file:///etc/passwd' }],
    ['unknown field', { name: 'x4', upstream: 'http://127.0.0.1:1', owner: 'me' }],
    ['bad access', { name: 'x5', upstream: 'http://127.0.0.1:1', access: 'private' }],
    ['bad auth setting', { name: 'x6', upstream: 'http://127.0.0.1:1', auth: { api_keys: 'yes' } }],
  ])('400 VALIDATION_FAILED for %s', async (_name, body) => {
    const res = await manage(t, 'POST', '/deployments', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('bad JSON is 400 BAD_REQUEST, a huge body is 413, never 500', async () => {
    const bad = await call(`${t.node.urls.management}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.management}`, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect([bad.status, bad.json.error.code]).toEqual([400, 'BAD_REQUEST']);
    const huge = await call(`${t.node.urls.management}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.management}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'h', upstream: `http://x/${'a'.repeat(2 * 1024 * 1024)}` }),
    });
    expect([huge.status, huge.json.error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('404 RESOURCE_NOT_FOUND for unknown names on every verb', async () => {
    for (const [method, path] of [
      ['GET', '/deployments/none'],
      ['PATCH', '/deployments/none'],
      ['DELETE', '/deployments/none'],
      ['POST', '/deployments/none/redeploy'],
      ['POST', '/deployments/none/enable'],
      ['DELETE', '/secrets/none'],
      ['PUT', '/secrets/none'],
      ['GET', '/api-keys/none/reveal'],
      ['DELETE', '/api-keys/none'],
      ['GET', '/services/none/versions'],
    ] as const) {
      const res = await manage(
        t,
        method,
        path,
        method === 'PUT' ? { value: 'v' } : method === 'PATCH' ? {} : undefined,
      );
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe('RESOURCE_NOT_FOUND');
    }
  });

  it('refuses to delete an infrastructure or a service still in use', async () => {
    const infra = await manage(t, 'DELETE', '/infrastructures/default');
    expect([infra.status, infra.body.error.code]).toEqual([409, 'RESOURCE_IN_USE']);
  });
});

describe('secrets API', () => {
  it('lists names only; a generated value is returned once; values are never listed', async () => {
    const created = await manage(t, 'POST', '/secrets', { name: 'listed', value: 'do-not-show-me' });
    expect(created.status).toBe(201);
    expect(created.body.value).toBeUndefined();
    const generated = await manage(t, 'POST', '/secrets', { name: 'gen', generate: true });
    expect(generated.body.value).toMatch(/^mgs_[0-9A-Za-z]{36}$/);
    const list = await call(`${t.node.urls.management}/api/v1/secrets`, {
      headers: { authorization: `Bearer ${t.keys.management}` },
    });
    expect(list.json.secrets.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['listed', 'gen']));
    expect(list.text).not.toContain('do-not-show-me');
    expect(list.text).not.toContain(generated.body.value);
  });

  it('refuses to delete a secret a deployment or a service version uses (409 RESOURCE_IN_USE), allows it once unused', async () => {
    await manage(t, 'POST', '/secrets', { name: 'in-use', value: 'pw' });
    await manage(t, 'POST', '/deployments', {
      name: 'uses-secret',
      upstream: demo.url,
      auth: { basic_secret: 'in-use', api_keys: false },
    });
    const refused = await manage(t, 'DELETE', '/secrets/in-use');
    expect([refused.status, refused.body.error.code]).toEqual([409, 'RESOURCE_IN_USE']);
    expect(refused.body.error.message).toBe(
      'The secret "in-use" is used by deployment "uses-secret", service version "uses-secret@1"',
    );
    await manage(t, 'DELETE', '/deployments/uses-secret');
    // The version made by that deploy still names it as its design-time Basic secret.
    const byVersion = await manage(t, 'DELETE', '/secrets/in-use');
    expect([byVersion.status, byVersion.body.error.code]).toEqual([409, 'RESOURCE_IN_USE']);
    expect(byVersion.body.error.message).toContain('service version "uses-secret@1"');
    expect((await manage(t, 'DELETE', '/services/uses-secret/versions/1')).status).toBe(204);
    expect((await manage(t, 'DELETE', '/secrets/in-use')).status).toBe(204);
  });

  it('refuses to delete a secret only a deployment override names, whatever its version says', async () => {
    await manage(t, 'POST', '/secrets', { name: 'override-only', value: 'pw' });
    await manage(t, 'POST', '/services', { name: 'plain-svc' });
    await manage(t, 'POST', '/services/plain-svc/versions', { version: '1' });
    const made = await manage(t, 'POST', '/deployments', {
      name: 'overrides',
      upstream: demo.url,
      service: 'plain-svc',
      version: '1',
      auth: { basic_secret: 'override-only', api_keys: false },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body.deployment.auth_source).toBe('override');
    const refused = await manage(t, 'DELETE', '/secrets/override-only');
    expect([refused.status, refused.body.error.message]).toEqual([
      409,
      'The secret "override-only" is used by deployment "overrides"',
    ]);
    // Back to the version's settings (no Basic): nothing refers to it any more.
    expect((await manage(t, 'PATCH', '/deployments/overrides', { auth: null })).status).toBe(200);
    expect((await manage(t, 'DELETE', '/secrets/override-only')).status).toBe(204);
  });

  it('needs exactly one of value or generate', async () => {
    for (const body of [{ name: 's1' }, { name: 's2', value: 'v', generate: true }, { name: 's3', value: '' }]) {
      const res = await manage(t, 'POST', '/secrets', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe('API keys: design time (D6) and per-deployment override (D7)', () => {
  it('version keys work on deployments of that version until a deployment overrides the settings', async () => {
    expect((await manage(t, 'POST', '/services', { name: 'ranker' })).status).toBe(201);
    const version = await manage(t, 'POST', '/services/ranker/versions', { version: '2', auth: { api_keys: true } });
    expect(version.status).toBe(201);
    const versionKey = (await manage(t, 'POST', '/api-keys', { service: 'ranker', version: '2' })).body.api_keys[0];
    expect(versionKey.key).toMatch(/^mgk_/);
    await manage(t, 'POST', '/infrastructures', { name: 'prod' });
    const dev = await manage(t, 'POST', '/deployments', {
      name: 'ranker-dev',
      upstream: demo.url,
      service: 'ranker',
      version: '2',
    });
    expect(dev.body.created).toEqual([]);
    const prod = await manage(t, 'POST', '/deployments', {
      name: 'ranker-prod',
      upstream: demo.url,
      service: 'ranker',
      version: '2',
      infrastructure: 'prod',
      auth: { api_keys: true },
      api_keys: 1,
    });
    expect(prod.body.deployment.auth_source).toBe('override');
    const prodKey = prod.body.api_keys[0].key;
    const ping = (name: string, key: string) =>
      call(`${t.node.urls.inference}/${name}/ping`, { headers: { authorization: `Bearer ${key}` } });
    expect((await ping('ranker-dev', versionKey.key)).status).toBe(200);
    expect((await ping('ranker-prod', versionKey.key)).status).toBe(403);
    expect((await ping('ranker-prod', prodKey)).status).toBe(200);
    expect((await ping('ranker-dev', prodKey)).status).toBe(403);

    // Returning prod to the version's settings makes the version key work there too.
    await manage(t, 'PATCH', '/deployments/ranker-prod', { auth: null });
    expect((await ping('ranker-prod', versionKey.key)).status).toBe(200);
  });

  it('lists prefixes only, reveals the same key again, and versions are immutable', async () => {
    const made = await manage(t, 'POST', '/api-keys', { deployment: 'made', count: 2, description: 'two' });
    expect(made.body.api_keys).toHaveLength(2);
    const listed = await call(`${t.node.urls.management}/api/v1/api-keys?deployment=made`, {
      headers: { authorization: `Bearer ${t.keys.management}` },
    });
    expect(listed.json.api_keys).toHaveLength(2);
    for (const k of made.body.api_keys) expect(listed.text).not.toContain(k.key);
    const revealed = await manage(t, 'GET', `/api-keys/${made.body.api_keys[0].id}/reveal`);
    expect(revealed.body.key).toBe(made.body.api_keys[0].key);
    const dup = await manage(t, 'POST', '/services/ranker/versions', { version: '2' });
    expect(dup.status).toBe(409);
  });
});
