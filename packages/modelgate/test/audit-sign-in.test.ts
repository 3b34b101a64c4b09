import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditRow, allAuditRecords, recordsOf } from './helpers/audit.js';
import { nodeOn, STORE_BACKENDS } from './helpers/backends.js';
import { call } from './helpers/http.js';
import type { TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD } from './helpers/people.js';

/**
 * Issue 17, item 6: every sign-in leaves exactly one record. A success is an allowed change
 * under the user it signed in (committed with the session); a failure and a throttled attempt
 * are refusals by `anonymous`, naming the account only when the username is one; sign-out is a
 * change under the user. No record holds a password, a cookie or a token.
 */
describe.each(STORE_BACKENDS)('sign-ins in the audit log on $name', (backend) => {
  const node = nodeOn(backend, { failure_limit: '2', failure_window_s: '60' });
  let t: TestNode;
  const password = `${GOOD_PASSWORD} carol`;
  /** Everything secret this file sends or receives, searched for in every record at the end. */
  const secrets: string[] = [password];
  let carolId = '';
  let requests = 0;

  beforeAll(async () => {
    t = node();
    const made = await api(t, t.keys.management, 'POST', '/users', { username: 'carol', password });
    expect(made.status).toBe(201);
    carolId = made.body.id;
  });

  /** One sign-in from its own address (the throttle counts per address too), with its own request id. */
  async function signIn(username: unknown, typed: unknown, address = `127.0.17.${requests + 1}`) {
    const requestId = `sign-in-${++requests}-${address}`;
    const res = await call(`${t.node.urls.management}/api/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify({ username, password: typed }),
      localAddress: address,
    });
    return { ...res, requestId };
  }

  const shape = (r: AuditRow) => [
    r.action,
    r.target_kind,
    r.target_name,
    r.outcome,
    r.status,
    r.code,
    r.actor,
    r.actor_kind,
  ];

  it('a successful sign-in is an allowed change by the user, recorded before the answer', async () => {
    const res = await signIn('carol', password);
    expect(res.status).toBe(201);
    secrets.push(res.json.token, ...[res.headers['set-cookie'] ?? []].flat());
    // No waiting: the record committed with the session.
    const rows = (await allAuditRecords(t)).filter((r) => r.request_id === res.requestId);
    expect(rows.map(shape)).toEqual([['session.create', 'session', 'carol', 'allowed', 201, null, carolId, 'user']]);
    expect(rows[0]?.client_address).toBe(res.requestId.split('-').pop());
  });

  it('a wrong password is a refusal by anonymous naming the account', async () => {
    const res = await signIn('carol', 'not the password');
    expect(res.status).toBe(401);
    const rows = await recordsOf(t, res.requestId);
    expect(rows.map(shape)).toEqual([
      ['session.create', 'session', 'carol', 'denied', 401, 'SIGN_IN_FAILED', 'anonymous', 'anonymous'],
    ]);
  });

  it('an unknown username is a refusal naming nobody: it may be a password typed in the wrong field', async () => {
    const typedPassword = 'Tr0ub4dor-and-3';
    secrets.push(typedPassword);
    const res = await signIn(typedPassword, '');
    expect(res.status).toBe(401);
    const rows = await recordsOf(t, res.requestId);
    expect(rows.map(shape)).toEqual([
      ['session.create', 'session', null, 'denied', 401, 'SIGN_IN_FAILED', 'anonymous', 'anonymous'],
    ]);
  });

  it('a disabled user with the right password is the same refusal as a wrong password', async () => {
    const made = await api(t, t.keys.management, 'POST', '/users', { username: 'dave', password: `${password} d` });
    expect(made.status).toBe(201);
    expect((await api(t, t.keys.management, 'POST', '/users/dave/disable')).status).toBe(200);
    const res = await signIn('dave', `${password} d`);
    expect(res.status).toBe(401);
    expect((await recordsOf(t, res.requestId)).map(shape)).toEqual([
      ['session.create', 'session', 'dave', 'denied', 401, 'SIGN_IN_FAILED', 'anonymous', 'anonymous'],
    ]);
  });

  it('a throttled attempt is a refusal with 429 THROTTLED, one record each, even with the right password', async () => {
    const address = '127.0.18.1';
    expect((await api(t, t.keys.management, 'POST', '/users', { username: 'erin', password })).status).toBe(201);
    const answers: { status: number; requestId: string }[] = [];
    for (const typed of ['wrong 1', 'wrong 2', password]) answers.push(await signIn('erin', typed, address));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 429]);
    const rows = await recordsOf(t, answers[2]!.requestId);
    expect(rows.map(shape)).toEqual([
      ['session.create', 'session', null, 'denied', 429, 'THROTTLED', 'anonymous', 'anonymous'],
    ]);
    for (const a of answers.slice(0, 2)) expect(await recordsOf(t, a.requestId)).toHaveLength(1);
  });

  it('a malformed sign-in is recorded as failed, and naming a credential as the user keeps it out', async () => {
    const shaped = `mgk_${'A'.repeat(40)}`;
    secrets.push(shaped);
    const bad = await signIn(shaped, 'x');
    expect(bad.status).toBe(401);
    expect((await recordsOf(t, bad.requestId))[0]?.target_name).toBeNull();
    const res = await call(`${t.node.urls.management}/api/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'sign-in-malformed' },
      body: JSON.stringify({ username: 'carol', password: 42 }),
      localAddress: '127.0.19.1',
    });
    expect(res.status).toBe(400);
    expect((await recordsOf(t, 'sign-in-malformed')).map(shape)).toEqual([
      ['session.create', 'session', null, 'failed', 400, 'VALIDATION_FAILED', 'anonymous', 'anonymous'],
    ]);
  });

  it('sign-out is an allowed change by the user, recorded before the answer', async () => {
    const made = await api(t, t.keys.management, 'POST', '/users', { username: 'frank', password });
    expect(made.status).toBe(201);
    const signed = await signIn('frank', password);
    expect(signed.status).toBe(201);
    secrets.push(signed.json.token);
    const res = await call(`${t.node.urls.management}/api/v1/sessions/current`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${signed.json.token}`, 'x-request-id': 'sign-out-1' },
    });
    expect(res.status).toBe(204);
    const rows = (await allAuditRecords(t)).filter((r) => r.request_id === 'sign-out-1');
    expect(rows.map(shape)).toEqual([
      ['session.delete', 'session', 'current', 'allowed', 204, null, made.body.id, 'user'],
    ]);
  });

  it('no record holds a password, a cookie or a token', async () => {
    const all = JSON.stringify(await allAuditRecords(t));
    expect(all).toContain('session.create');
    for (const secret of secrets.filter((s) => s.length > 0)) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/mgu_|modelgate_session/);
  });
});
