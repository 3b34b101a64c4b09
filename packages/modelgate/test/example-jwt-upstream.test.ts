import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript example without types
import { createHandler } from '../../../examples/jwt-upstream/server.mjs';
import { getJson } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';

/** examples/jwt-upstream: an upstream that verifies forwarded platform JWTs against the JWKS (S5). */
describe('the example upstream verifying forwarded platform JWTs', () => {
  let t: TestNode;
  let upstream: Server;
  beforeAll(async () => {
    t = await startTestNode();
    upstream = createServer(createHandler({ jwksUrl: `${t.node.urls.inference}/.well-known/jwks.json` }));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    await deploy(t, { name: 'verified', upstream: url, access: 'protected', auth: { forward_credential: true } });
    await deploy(t, { name: 'stripped', upstream: url, access: 'protected' });
  });
  afterAll(async () => {
    await t?.close();
    upstream?.closeAllConnections();
    upstream?.close();
  });

  it('accepts the forwarded token and names its subject; without forwarding it sees no token', async () => {
    const { body } = await manage(t, 'GET', '/issue-jwt?infrastructure=default');
    const res = await getJson(`${t.node.urls.inference}/verified/predict`, body.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, sub: 'management_key:node:management', jti: body.jti });
    expect((await getJson(`${t.node.urls.inference}/stripped/predict`, body.token)).status).toBe(401);
  });

  it('refuses a token sent straight to it for another deployment', async () => {
    const { body } = await manage(t, 'GET', '/issue-jwt?deployment=stripped');
    const direct = await getJson(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, body.token, {
      headers: { 'x-modelgate-deployment-id': 'dep_other', 'x-modelgate-infrastructure-id': 'x' },
    });
    expect(direct.status).toBe(403);
  });
});
