import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { call } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { recordingUpstream, type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * Issue 22, item 6, on every way in: a deployment's `credentials` list is decided where any
 * credential is, so a kind it leaves out opens it neither as a header, nor as the browser cookie,
 * nor through a forward-auth decision, nor on the sign-in form; and an open WebSocket relay of a
 * kind the list stops taking is closed when the list changes.
 */
let t: TestNode;
let up: TestUpstream;
let ws: TestUpstream;

beforeAll(async () => {
  [up, ws] = await Promise.all([recordingUpstream('model'), websocketUpstream()]);
  // Nine refused credentials from one address: keep the failure throttle out of the way.
  t = await startTestNode({ trusted_proxies: '127.0.0.1/32', failure_limit: '100' });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([up?.close(), ws?.close()]);
});

describe('a JWT-only deployment on every way in', () => {
  it('an API key, the inference key and the management key are refused as a cookie, by forward-auth and on the sign-in form; a JWT opens all three', async () => {
    const made = await deploy(t, {
      name: 'jwt-only',
      upstream: up.url,
      access: 'protected',
      api_keys: 1,
      auth: { api_keys: true, credentials: ['platform_jwt'] },
    });
    const jwt = (await manage(t, 'GET', '/issue-jwt?deployment=jwt-only')).body.token as string;
    const inference = t.node.urls.inference;
    const ways = (credential: string) => [
      call(`${inference}/jwt-only/x`, { headers: { cookie: `modelgate_token=${credential}` } }),
      call(`${inference}/_modelgate/auth/traefik`, {
        headers: {
          authorization: `Bearer ${credential}`,
          'x-forwarded-method': 'GET',
          'x-forwarded-proto': 'http',
          'x-forwarded-host': 'models.example',
          'x-forwarded-uri': '/jwt-only/x',
        },
      }),
      call(`${inference}/_modelgate/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: inference },
        body: `deployment=jwt-only&return_to=%2Fjwt-only%2F&token=${encodeURIComponent(credential)}`,
      }),
    ];
    for (const [kind, credential] of [
      ['api_key', made.api_keys[0].key],
      ['inference_key', t.keys.inference],
      ['management_key', t.keys.management],
    ] as const) {
      const answers = await Promise.all(ways(credential));
      expect([kind, ...answers.map((a) => a.status)]).toEqual([kind, 401, 401, 401]);
    }
    expect((await Promise.all(ways(jwt))).map((a) => a.status)).toEqual([200, 200, 303]);
  });

  it('a relay the inference key opened is closed when the list leaves node keys out, and cannot be opened again', async () => {
    await deploy(t, { name: 'chat', upstream: ws.url, access: 'protected' });
    const url = `${t.node.urls.inference.replace('http', 'ws')}/chat/`;
    const headers = { authorization: `Bearer ${t.keys.inference}` };
    const socket = new WebSocket(url, { headers });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    expect((await manage(t, 'PATCH', '/deployments/chat', { auth: { credentials: ['platform_jwt'] } })).status).toBe(
      200,
    );
    await closed;
    const again = new WebSocket(url, { headers });
    const status = await new Promise<number>((resolve) =>
      again.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(401);
  });
});
