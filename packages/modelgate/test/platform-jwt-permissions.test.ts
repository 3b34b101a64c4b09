import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';

/**
 * Issue 12 × issue 8: who may issue and revoke platform JWTs is the permission model's call.
 * Issuing needs read on the target (deployment: service read ∧ infrastructure view); revoking by
 * target needs deploy on it; revoking one jti needs the global admin privilege. A target the
 * caller may not read answers exactly like a missing one.
 */
let t: TestNode;
let reader: string; // reads `shared` on `dev`
let deployer: string; // deploys `shared` on `dev`
let outsider: string; // no grants at all

beforeAll(async () => {
  t = await startTestNode();
  const m = t.keys.management;
  for (const name of ['readers', 'deployers']) expect((await api(t, m, 'POST', '/groups', { name })).status).toBe(201);
  expect((await api(t, m, 'POST', '/infrastructures', { name: 'dev' })).status).toBe(201);
  expect((await api(t, m, 'POST', '/services', { name: 'shared' })).status).toBe(201);
  const grants: [string, string[]][] = [
    ['/infrastructures/dev/grants/readers', ['view']],
    ['/services/shared/grants/readers', ['read']],
    ['/infrastructures/dev/grants/deployers', ['view', 'deploy']],
    ['/services/shared/grants/deployers', ['read', 'deploy']],
  ];
  for (const [path, rights] of grants) expect((await api(t, m, 'PUT', path, { rights })).status).toBeLessThan(300);
  const made = await api(t, m, 'POST', '/deployments', {
    name: 'jwt-shared',
    service: 'shared',
    infrastructure: 'dev',
    upstream: 'http://127.0.0.1:9/',
  });
  expect(made.status).toBe(201);
  reader = await userWithSession(t, 'jwt-reader', ['readers']);
  deployer = await userWithSession(t, 'jwt-deployer', ['deployers']);
  outsider = await userWithSession(t, 'jwt-outsider');
});
afterAll(() => t?.close());

describe('platform JWTs under the permission model', () => {
  it('a user who may read the deployment or its infrastructure issues tokens for it', async () => {
    for (const query of ['deployment=jwt-shared', 'infrastructure=dev']) {
      const res = await api(t, reader, 'GET', `/issue-jwt?${query}`);
      expect(res.status, query).toBe(200);
      expect(res.body.token.split('.')).toHaveLength(3);
      expect(res.body.jti).toBeTruthy();
    }
  });

  it('a user who may not read the target gets the same 404 as for a missing name', async () => {
    const hidden = await api(t, outsider, 'GET', '/issue-jwt?deployment=jwt-shared');
    const missing = await api(t, outsider, 'GET', '/issue-jwt?deployment=no-such-deployment');
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(hidden.body.error.code).toBe(missing.body.error.code);
    expect(hidden.text).not.toContain('"token"');
    expect((await api(t, outsider, 'GET', '/issue-jwt?infrastructure=dev')).status).toBe(404);
  });

  it('revoking by target needs deploy on it; revoking one jti needs global admin', async () => {
    const byReader = await api(t, reader, 'POST', '/jwt-revocations', { deployment: 'jwt-shared' });
    expect(byReader.status).toBe(403);
    expect(byReader.body.error.code).toBe('MISSING_SERVICE_DEPLOY');
    expect((await api(t, deployer, 'POST', '/jwt-revocations', { deployment: 'jwt-shared' })).status).toBe(201);

    const { jti } = (await api(t, reader, 'GET', '/issue-jwt?deployment=jwt-shared')).body;
    const byJti = await api(t, deployer, 'POST', '/jwt-revocations', { jti });
    expect(byJti.status).toBe(403);
    expect(byJti.body.error.code).toBe('MISSING_GLOBAL_ADMIN');
    expect((await api(t, t.keys.management, 'POST', '/jwt-revocations', { jti })).status).toBe(201);
  });
});
