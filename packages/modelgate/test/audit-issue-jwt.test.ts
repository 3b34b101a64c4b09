import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditRow, allAuditRecords, recordsOf } from './helpers/audit.js';
import { nodeOn, STORE_BACKENDS } from './helpers/backends.js';
import { deploy, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';

/**
 * Issue 17, item 7: minting a platform JWT is a change whatever the method. GET and POST
 * `/api/v1/issue-jwt` each leave one allowed `jwt.issue` record naming the target, in the store
 * before the token is handed out; a refused GET is a refusal; a HEAD mints nothing.
 */
describe.each(STORE_BACKENDS)('issuing a JWT in the audit log on $name', (backend) => {
  const node = nodeOn(backend);
  let t: TestNode;
  let outsider: string;
  const tokens: string[] = [];
  let minted = 0;

  beforeAll(async () => {
    t = node();
    await deploy(t, { name: 'minted', upstream: 'http://127.0.0.1:9' });
    outsider = await userWithSession(t, 'jwt-outsider');
  });

  const shape = (r: AuditRow) => [r.action, r.target_kind, r.target_name, r.outcome, r.status, r.code, r.actor];

  /** The records of one request, read once right after its answer (no waiting for a batch). */
  const now = async (requestId: string) => (await allAuditRecords(t)).filter((r) => r.request_id === requestId);

  it.each([
    ['GET', '/issue-jwt?deployment=minted', undefined, ['deployment', 'minted', 200]],
    ['POST', '/issue-jwt', { deployment: 'minted' }, ['deployment', 'minted', 200]],
    ['POST', '/issue-jwt?infrastructure=default', undefined, ['infrastructure', 'default', 200]],
    // An empty name is no target, for the record as for the handler.
    ['GET', '/issue-jwt?infrastructure=default&deployment=', undefined, ['infrastructure', 'default', 200]],
    [
      'POST',
      '/issue-jwt?deployment=minted',
      { deployment: '', infrastructure: 'default' },
      ['infrastructure', 'default', 200],
    ],
    // Both named: refused as bad input, a failed change naming the first.
    ['GET', '/issue-jwt?infrastructure=default&deployment=minted', undefined, ['deployment', 'minted', 400]],
  ] as const)('%s %s is one jwt.issue record naming its target', async (method, path, body, [kind, name, status]) => {
    const requestId = `mint-${++minted}`;
    const res = await api(t, t.keys.management, method, path, body, { 'x-request-id': requestId });
    expect(res.status, res.text).toBe(status);
    if (status !== 200) {
      expect((await recordsOf(t, requestId)).map(shape)).toEqual([
        ['jwt.issue', kind, name, 'failed', 400, 'VALIDATION_FAILED', 'node:management'],
      ]);
      return;
    }
    tokens.push(res.body.token);
    expect((await now(requestId)).map(shape)).toEqual([
      ['jwt.issue', kind, name, 'allowed', 200, null, 'node:management'],
    ]);
  });

  it('a GET refused for a hidden deployment is a denied jwt.issue record, and mints nothing', async () => {
    const res = await api(t, outsider, 'GET', '/issue-jwt?deployment=minted', undefined, {
      'x-request-id': 'mint-hidden',
    });
    expect(res.status).toBe(404);
    expect(res.body.token).toBeUndefined();
    expect((await recordsOf(t, 'mint-hidden')).map((r) => [r.action, r.target_name, r.outcome, r.status])).toEqual([
      ['jwt.issue', 'minted', 'denied', 404],
    ]);
  });

  it('a GET with the inference key is a denied jwt.issue record', async () => {
    const res = await api(t, t.keys.inference, 'GET', '/issue-jwt?deployment=minted', undefined, {
      'x-request-id': 'mint-wrong-key',
    });
    expect(res.status).toBe(403);
    expect((await recordsOf(t, 'mint-wrong-key')).map((r) => [r.action, r.outcome, r.status, r.actor])).toEqual([
      ['jwt.issue', 'denied', 403, 'node:inference'],
    ]);
  });

  it('a HEAD mints nothing and records no issue', async () => {
    const res = await fetch(`${t.node.urls.management}/api/v1/issue-jwt?deployment=minted`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${t.keys.management}`, 'x-request-id': 'mint-head' },
    });
    expect(res.status).toBe(405);
    expect(await now('mint-head')).toEqual([]);
  });

  it('no record holds a minted token', async () => {
    const all = JSON.stringify(await allAuditRecords(t));
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(all).not.toContain(token);
    expect(all).not.toContain('eyJ');
  });
});
