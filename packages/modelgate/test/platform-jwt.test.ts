import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { storeFor } from './helpers/backends.js';
import { testClock } from './helpers/clock.js';
import { getJson } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { recordingUpstream, type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * Issuing → calling → revoking platform JWTs end to end on real sockets, once on the embedded
 * SQLite store and once on PostgreSQL. The node runs on a test clock, moved instead of slept on.
 */
describe.each(['sqlite', 'postgres'] as const)('platform JWTs on %s', (dialect) => {
  const clock = testClock();
  let t: TestNode;
  let up: TestUpstream;
  let ws: TestUpstream;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const store = await storeFor(dialect);
    drop = store.drop;
    t = await startTestNode({ ...store.overrides, failure_limit: '1000' }, {}, { clock: clock.now });
    up = await recordingUpstream('up');
    ws = await websocketUpstream();
    await deploy(t, { name: 'chat', upstream: ws.url, access: 'protected' });
    await deploy(t, { name: 'a', upstream: up.url, access: 'protected' });
    await deploy(t, { name: 'b', upstream: up.url, access: 'protected' });
    await deploy(t, { name: 'fwd', upstream: up.url, access: 'protected', auth: { forward_credential: true } });
    await deploy(t, { name: 'c', upstream: up.url, access: 'protected', infrastructure: 'other' });
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await ws?.close();
    await drop?.();
  });

  const model = (name: string, token: string) => getJson(`${t.node.urls.inference}/${name}/predict`, token);
  const issue = async (query: string) => {
    const res = await getJson(`${t.node.urls.management}/api/v1/issue-jwt?${query}`, t.keys.management);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { token: string; jti: string; expires_at: string };
  };

  it('serves the same public JWKS on both listeners, without any private part', async () => {
    const inference = await getJson(`${t.node.urls.inference}/.well-known/jwks.json`);
    const management = await getJson(`${t.node.urls.management}/.well-known/jwks.json`);
    expect(inference.status).toBe(200);
    expect(management.status).toBe(200);
    expect(inference.body).toEqual(management.body);
    const keys = inference.body.keys as Record<string, unknown>[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });

  it('a deployment token opens that deployment only; the claims are the documented ones', async () => {
    const issued = await issue('deployment=a');
    expect(issued.jti).toMatch(/^jwt_/);
    const jwks = createLocalJWKSet((await getJson(`${t.node.urls.inference}/.well-known/jwks.json`)).body as never);
    const { payload, protectedHeader } = await jwtVerify(issued.token, jwks, { audience: 'modelgate:inference' });
    expect(protectedHeader.typ).toBe('modelgate+jwt');
    expect(payload).toMatchObject({ iss: 'modelgate', sub: 'management_key:node:management', jti: issued.jti });
    expect(payload.modelgate_claim).toMatchObject({ infrastructure: 'default', deployment: 'a' });
    expect(new Date(payload.exp! * 1000).toISOString()).toBe(issued.expires_at);

    expect((await model('a', issued.token)).status).toBe(200);
    const other = await model('b', issued.token);
    expect(other.status).toBe(403);
    expect(other.body.error?.code).toBe('FORBIDDEN');
    expect((await model('c', issued.token)).status).toBe(403);
  });

  it('an infrastructure token opens every deployment in it and none elsewhere', async () => {
    const res = await fetch(`${t.node.urls.management}/api/v1/issue-jwt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.management}`, 'content-type': 'application/json' },
      body: JSON.stringify({ infrastructure: 'default' }),
    });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    expect((await model('a', token)).status).toBe(200);
    expect((await model('b', token)).status).toBe(200);
    expect((await model('c', token)).status).toBe(403);
    const byQuery = await fetch(`${t.node.urls.management}/api/v1/issue-jwt?deployment=a`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.management}` },
    });
    expect(byQuery.status, await byQuery.clone().text()).toBe(200);
    const empty = await fetch(`${t.node.urls.management}/api/v1/issue-jwt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.management}` },
    });
    expect(empty.status).toBe(400);
    const revokeEmpty = await fetch(`${t.node.urls.management}/api/v1/jwt-revocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.management}` },
    });
    expect(revokeEmpty.status).toBe(400);
  });

  it('tells the upstream its deployment and infrastructure ids, and forwards the token only when asked', async () => {
    const { token } = await issue('infrastructure=default');
    up.hits.length = 0;
    expect((await model('a', token)).status).toBe(200);
    expect((await model('fwd', token)).status).toBe(200);
    const [plain, forwarded] = up.hits;
    expect(plain?.headers['x-modelgate-deployment-id']).toMatch(/^dep_/);
    expect(plain?.headers['x-modelgate-infrastructure-id']).toMatch(/^inf/);
    expect(plain?.headers.authorization).toBeUndefined();
    expect(forwarded?.headers.authorization).toBe(`Bearer ${token}`);
    expect(forwarded?.headers['x-modelgate-infrastructure-id']).toBe(plain?.headers['x-modelgate-infrastructure-id']);
  });

  it('revoking one jti refuses that token on the next request and no other', async () => {
    const one = await issue('deployment=a');
    const two = await issue('deployment=a');
    expect((await model('a', one.token)).status).toBe(200);
    const revoked = await manage(t, 'POST', '/jwt-revocations', { jti: one.jti });
    expect(revoked.status).toBe(201);
    const refused = await model('a', one.token);
    expect(refused.status).toBe(401);
    expect(refused.body.error?.code).toBe('CREDENTIAL_REVOKED');
    expect((await model('a', two.token)).status).toBe(200);
  });

  it('revoking a token cuts the WebSockets it opened, and only those', async () => {
    const revoked = await issue('deployment=chat');
    const kept = await issue('deployment=chat');
    const open = async (token: string) => {
      const socket = new WebSocket(`${t.node.urls.inference.replace('http', 'ws')}/chat/socket`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await new Promise<void>((resolve, reject) => {
        socket.on('open', () => resolve());
        socket.on('error', reject);
      });
      return socket;
    };
    const [cut, alive] = await Promise.all([open(revoked.token), open(kept.token)]);
    const closed = new Promise<void>((resolve) => cut.on('close', () => resolve()));
    expect((await manage(t, 'POST', '/jwt-revocations', { jti: revoked.jti })).status).toBe(201);
    await closed;
    const reply = await new Promise<string>((resolve) => {
      alive.on('message', (data) => resolve(data.toString()));
      alive.send('still here');
    });
    expect(reply).toBe('echo:still here');
    alive.close();
  });

  it('revoking a target refuses its tokens issued before the time, and not later ones', async () => {
    const infra = await issue('infrastructure=default');
    const dep = await issue('deployment=b');
    const elsewhere = await issue('infrastructure=other');
    expect((await model('b', infra.token)).status).toBe(200);
    const revoked = await manage(t, 'POST', '/jwt-revocations', { infrastructure: 'default' });
    expect(revoked.status).toBe(201);
    expect((await model('b', infra.token)).status).toBe(401);
    expect((await model('b', dep.token)).status).toBe(401);
    expect((await model('c', elsewhere.token)).status).toBe(200);
    // A token issued after the revocation's time works (iat has one-second resolution, so the
    // node's clock moves a second on instead of the test sleeping one).
    clock.advance(1000);
    const fresh = await issue('deployment=b');
    expect(decodeJwt(fresh.token).iat! * 1000).toBeGreaterThan(Date.parse(revoked.body.issued_before));
    expect((await model('b', fresh.token)).status).toBe(200);
    const depRevoked = await manage(t, 'POST', '/jwt-revocations', { deployment: 'b' });
    expect(depRevoked.status).toBe(201);
    expect((await model('b', fresh.token)).status).toBe(401);
  });

  it('rotation: new tokens carry the new kid, old tokens keep working, both keys are published', async () => {
    const before = await issue('deployment=c');
    const rotated = await manage(t, 'POST', '/signing-keys/rotate');
    expect(rotated.status).toBe(201);
    const after = await issue('deployment=c');
    expect(decodeProtectedHeader(after.token).kid).toBe(rotated.body.kid);
    expect(decodeProtectedHeader(before.token).kid).not.toBe(rotated.body.kid);
    expect((await model('c', before.token)).status).toBe(200);
    expect((await model('c', after.token)).status).toBe(200);
    const jwks = await getJson(`${t.node.urls.inference}/.well-known/jwks.json`);
    expect((jwks.body.keys as { kid: string }[]).map((k) => k.kid)).toContain(rotated.body.kid);
    expect(jwks.body.keys).toHaveLength(2);
  });

  it('refuses bad issuing input with 400 and unknown targets with 404', async () => {
    const ask = (query: string) => getJson(`${t.node.urls.management}/api/v1/issue-jwt?${query}`, t.keys.management);
    expect((await ask('deployment=nope')).status).toBe(404);
    expect((await ask('infrastructure=nope')).status).toBe(404);
    expect((await ask('deployment=a&infrastructure=default')).body.error?.code).toBe('VALIDATION_FAILED');
    expect((await ask('')).body.error?.code).toBe('VALIDATION_FAILED');
    expect((await ask('deployment=a&expires_at=2001-01-01T00:00:00Z')).status).toBe(400);
    expect((await ask('deployment=a&expires_at=2999-01-01T00:00:00Z')).status).toBe(400);
    expect((await ask('deployment=a&expires_at=tomorrow')).status).toBe(400);
    const soon = new Date(clock.now() + 600_000).toISOString();
    const ok = await ask(`deployment=a&expires_at=${encodeURIComponent(soon)}`);
    expect(ok.status).toBe(200);
    expect(Math.abs(Date.parse(ok.body.expires_at as string) - Date.parse(soon))).toBeLessThan(1000);
    const future = new Date(clock.now() + 3_600_000).toISOString();
    const bad = await manage(t, 'POST', '/jwt-revocations', { deployment: 'a', issued_before: future });
    expect(bad.status).toBe(400);
    expect((await manage(t, 'POST', '/jwt-revocations', { jti: 'x', deployment: 'a' })).status).toBe(400);
  });

  it('only an ops credential may issue: the inference key and no credential are refused', async () => {
    expect((await getJson(`${t.node.urls.management}/api/v1/issue-jwt?deployment=a`)).status).toBe(401);
    const inference = await getJson(`${t.node.urls.management}/api/v1/issue-jwt?deployment=a`, t.keys.inference);
    expect(inference.status).toBe(403);
  });

  // Last: it moves the node's clock a minute and a half on.
  it('a token is refused with 401 CREDENTIAL_EXPIRED once the clock passes exp plus the skew, cached or not', async () => {
    const until = encodeURIComponent(new Date(clock.now() + 60_000).toISOString());
    const seen = await issue(`deployment=a&expires_at=${until}`);
    const late = await issue(`deployment=a&expires_at=${until}`);
    const exp = decodeJwt(seen.token).exp!;
    const skewS = t.node.config.jwt_clock_skew_s;
    expect(skewS).toBeGreaterThan(5);
    expect((await model('a', seen.token)).status).toBe(200);
    // Past exp but within jwt_clock_skew_s: still accepted (from the gateway's cache).
    clock.at((exp + skewS - 5) * 1000);
    expect((await model('a', seen.token)).status).toBe(200);
    // Past both: refused, the cached token and the one never presented alike.
    clock.at((exp + skewS + 1) * 1000);
    for (const token of [seen.token, late.token]) {
      const res = await model('a', token);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('CREDENTIAL_EXPIRED');
    }
  });
});
