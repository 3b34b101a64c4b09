import { type DemoServer, startDemoServer } from 'modelgate';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, isErrorCode, ModelgateApiError, type SseEvent } from '../src/index.js';
import { rejectionOf } from './helpers/rejection.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let slowDemo: DemoServer;
let admin: Client;

const CHAT = {
  model: 'modelgate-demo',
  messages: [{ role: 'user', content: 'I love this gateway, it is excellent' }],
};

beforeAll(async () => {
  server = await startTestServer();
  slowDemo = await startDemoServer({ tokenDelayMs: 200 });
  admin = new Client(server.urls.management, {
    token: server.keys.management,
    inferenceEndpoint: server.urls.inference,
  });
  await admin.deployments.create({ name: 'demo', upstream: server.demo.url, access: 'protected' });
  await admin.deployments.create({ name: 'slow', upstream: slowDemo.url, access: 'protected' });
});

afterAll(async () => {
  await Promise.all([server?.close(), slowDemo?.close()]);
});

/** Every place a credential could leak from an error. */
function everyTextOf(err: unknown): string {
  const e = err as Error;
  return [String(e), e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify((e as ModelgateApiError).body)].join(
    '\n',
  );
}

async function collect(events: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('management API', () => {
  it('names the caller', async () => {
    const me = await admin.whoami();
    expect(me.kind).toBe('management_key');
    expect(me.privileges).toEqual(['admin', 'create_service']);
  });

  it('creates, lists, reads, updates, disables, enables and deletes a deployment', async () => {
    const created = await admin.deployments.create({
      name: 'crud',
      upstream: server.demo.url,
      access: 'protected',
      api_keys: 1,
    });
    expect(created.deployment?.name).toBe('crud');
    expect(created.api_keys?.[0]?.key).toMatch(/^mgk_/);

    const { deployments } = await admin.deployments.list();
    expect(deployments?.map((d) => d.name)).toEqual(expect.arrayContaining(['crud', 'demo', 'slow']));

    const before = await admin.deployments.get('crud');
    expect(before).toMatchObject({ name: 'crud', access: 'protected', enabled: true, upstream: server.demo.url });

    const updated = await admin.deployments.update('crud', { access: 'public' });
    expect(updated.access).toBe('public');
    expect(updated.revision).toBe((before.revision ?? 0) + 1);
    // Public now: the gateway answers without a credential.
    const anonymous = new Client(server.urls.management, { inferenceEndpoint: server.urls.inference });
    expect(await anonymous.deployment('crud').get('/ping')).toEqual({ status: 'Healthy' });

    expect((await admin.deployments.disable('crud')).enabled).toBe(false);
    const disabled = await rejectionOf(anonymous.deployment('crud').get('/ping'));
    expect(disabled).toMatchObject({ status: 503, code: 'DEPLOYMENT_DISABLED' });
    expect((await admin.deployments.enable('crud')).enabled).toBe(true);
    expect((await admin.deployments.redeploy('crud')).revision).toBeGreaterThan(updated.revision ?? 0);

    await admin.deployments.delete('crud');
    expect(await rejectionOf(admin.deployments.get('crud'))).toMatchObject({ status: 404, code: 'RESOURCE_NOT_FOUND' });
    expect(await rejectionOf(anonymous.deployment('crud').get('/ping'))).toMatchObject({
      status: 404,
      code: 'DEPLOYMENT_NOT_FOUND',
    });
  });

  it('calls any operation through the typed request()', async () => {
    const body = await admin.request('get', '/api/v1/deployments/{name}', { params: { name: 'demo' } });
    expect(body.name).toBe('demo');
    const keys = await admin.request('post', '/api/v1/api-keys', { body: { deployment: 'demo', count: 2 } });
    expect(keys.api_keys).toHaveLength(2);
    const listed = await admin.request('get', '/api/v1/api-keys', { query: { deployment: 'demo' } });
    expect(listed.api_keys?.map((k) => k.id).sort()).toEqual(keys.api_keys?.map((k) => k.id).sort());
    expect(listed.api_keys?.every((k) => k.key === undefined)).toBe(true);
  });
});

describe('typed errors', () => {
  it('gives RESOURCE_NOT_FOUND with the status and request id for an unknown deployment', async () => {
    const err = await rejectionOf(admin.deployments.get('no-such-deployment'));
    expect(err).toBeInstanceOf(ModelgateApiError);
    const e = err as ModelgateApiError;
    expect(e.status).toBe(404);
    expect(e.code).toBe('RESOURCE_NOT_FOUND');
    expect(isErrorCode(e.code)).toBe(true);
    expect(e.message).not.toBe('');
    expect(e.requestId).toMatch(/\S/);
  });

  it('gives a 401 code for a bad token and never shows the token', async () => {
    const token = `mgt_${'A1b2C3d4'.repeat(4)}`;
    const client = new Client(server.urls.management, { token, inferenceEndpoint: server.urls.inference });
    const calls = [
      () => client.whoami(),
      () => client.deployments.list(),
      () => client.deployment('demo').post('/x', {}),
    ];
    for (const call of calls) {
      const err = await rejectionOf(call());
      expect(err).toBeInstanceOf(ModelgateApiError);
      expect((err as ModelgateApiError).status).toBe(401);
      expect((err as ModelgateApiError).code).toMatch(/^CREDENTIAL_(MALFORMED|UNKNOWN)$/);
      expect(everyTextOf(err)).not.toContain(token);
      expect(everyTextOf(err)).not.toContain('A1b2C3d4');
    }
  });

  it('gives CREDENTIAL_MISSING without a token and VALIDATION_FAILED with details for a bad body', async () => {
    const anonymous = new Client(server.urls.management, { inferenceEndpoint: server.urls.inference });
    expect(await rejectionOf(anonymous.whoami())).toMatchObject({ status: 401, code: 'CREDENTIAL_MISSING' });
    expect(await rejectionOf(anonymous.deployment('demo').get('/ping'))).toMatchObject({
      status: 401,
      code: 'CREDENTIAL_MISSING',
    });
    const bad = await rejectionOf(
      admin.deployments.create({ name: 'x', upstream: 'http://127.0.0.1:1', access: 'nope' as 'public' }),
    );
    expect(bad).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect((bad as ModelgateApiError).details?.join(' ')).toContain('access');
  });

  it("gives HTTP_ERROR with the model server's own body for an upstream error", async () => {
    const demo = admin.deployment('demo', { token: server.keys.inference });
    const err = (await rejectionOf(demo.post('/v1/chat/completions', { model: 'm' }))) as ModelgateApiError;
    expect(err).toBeInstanceOf(ModelgateApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('HTTP_ERROR');
    expect(err.message).toBe("Missing required parameter: 'messages'.");
    expect(err.body).toMatchObject({ error: { type: 'invalid_request_error', param: 'messages' } });
  });
});

describe('inference', () => {
  it('posts JSON to the demo model and returns the parsed answer', async () => {
    const demo = admin.deployment('demo', { token: server.keys.inference });
    expect(demo.url).toBe(`${server.urls.inference}/demo`);
    const sentiment = await demo.post<{ label: string; score: number }>('/predictions/sentiment', {
      text: 'I love it, excellent!',
    });
    expect(sentiment.label).toBe('positive');
    const models = await demo.get<{ data: { id: string }[] }>('/v1/models');
    expect(models.data.map((m) => m.id)).toEqual(['modelgate-demo']);
  });

  it('streams a chat completion from the demo model as events, the same text as the unstreamed one', async () => {
    const demo = admin.deployment('demo', { token: server.keys.inference });
    const whole = await demo.post<{ choices: { message: { content: string } }[] }>('/v1/chat/completions', CHAT);
    const events = await collect(demo.stream('/v1/chat/completions', { ...CHAT, stream: true }));
    expect(events.length).toBeGreaterThan(3);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(text.length).toBeGreaterThan(10);
    expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
  });

  it('does not send anything until the loop starts, and throws typed errors from the loop', async () => {
    let calls = 0;
    const counting = new Client(server.urls.management, {
      inferenceEndpoint: server.urls.inference,
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    const stream = counting.deployment('demo').stream('/v1/chat/completions', { ...CHAT, stream: true });
    expect(calls).toBe(0);
    expect(await rejectionOf(collect(stream))).toMatchObject({ status: 401, code: 'CREDENTIAL_MISSING' });
    expect(calls).toBe(1);
  });

  it('refuses to read a JSON answer as an event stream', async () => {
    const demo = admin.deployment('demo', { token: server.keys.inference });
    const err = await rejectionOf(collect(demo.stream('/v1/chat/completions', CHAT)));
    expect(err).toMatchObject({ status: 200, code: 'INVALID_RESPONSE' });
  });

  it('stops a stream when its AbortSignal fires, and the model stops generating', async () => {
    const slow = admin.deployment('slow', { token: server.keys.inference });
    const controller = new AbortController();
    const seen: SseEvent[] = [];
    const err = await rejectionOf(
      (async () => {
        for await (const event of slow.stream(
          '/v1/chat/completions',
          { ...CHAT, stream: true },
          { signal: controller.signal },
        )) {
          seen.push(event);
          controller.abort();
        }
      })(),
    );
    expect((err as Error).name).toBe('AbortError');
    expect(seen).toHaveLength(1);
    await vi.waitFor(() => expect(slowDemo.streamStats()).toMatchObject({ active: 0, aborted: 1 }), {
      timeout: 10_000,
    });
  });

  it('closes the connection when the loop is left early', async () => {
    const slow = admin.deployment('slow', { token: server.keys.inference });
    const before = slowDemo.streamStats().aborted;
    for await (const event of slow.stream('/v1/chat/completions', { ...CHAT, stream: true })) {
      expect(JSON.parse(event.data).object).toBe('chat.completion.chunk');
      break;
    }
    await vi.waitFor(() => expect(slowDemo.streamStats()).toMatchObject({ active: 0, aborted: before + 1 }), {
      timeout: 10_000,
    });
  });

  it('aborts a post whose signal already fired without sending it', async () => {
    const controller = new AbortController();
    controller.abort();
    const demo = admin.deployment('demo', { token: server.keys.inference });
    const err = await rejectionOf(demo.post('/predictions/sentiment', { text: 'x' }, { signal: controller.signal }));
    expect((err as Error).name).toBe('AbortError');
  });
});

describe('tokens', () => {
  let alice: Client;

  beforeAll(async () => {
    await admin.request('post', '/api/v1/groups', { body: { name: 'sdk-readers', privileges: [] } });
    // sdk-alice may read the demo deployment (view on its infrastructure, read on its service).
    const demo = await admin.deployments.get('demo');
    await admin.request('put', '/api/v1/infrastructures/{name}/grants/{group}', {
      params: { name: demo.infrastructure, group: 'sdk-readers' },
      body: { rights: ['view'] },
    });
    await admin.request('put', '/api/v1/services/{name}/grants/{group}', {
      params: { name: demo.service, group: 'sdk-readers' },
      body: { rights: ['read'] },
    });
    const password = 'correct horse battery staple sdk';
    await admin.request('post', '/api/v1/users', {
      body: { username: 'sdk-alice', password, groups: ['sdk-readers'] },
    });
    const session = await new Client(server.urls.management).request('post', '/api/v1/sessions', {
      body: { username: 'sdk-alice', password },
    });
    alice = new Client(server.urls.management, { token: session.token, inferenceEndpoint: server.urls.inference });
  });

  it('creates a token, uses it on a deployment, lists it without the secret, deletes it, and it is refused next', async () => {
    expect(await alice.whoami()).toMatchObject({ kind: 'user', user: 'sdk-alice' });
    const created = await alice.tokens.create({
      name: 'sdk-test',
      description: 'made by the SDK test',
      ops_access: true,
      endpoint_access: { deployments: ['demo'] },
    });
    const secret = String(created.token);
    expect(secret).toMatch(/^mgt_/);
    const withToken = new Client(server.urls.management, { token: secret, inferenceEndpoint: server.urls.inference });
    // An ops token acts as its owner on the management API.
    expect(await withToken.whoami()).toMatchObject({ kind: 'user', user: 'sdk-alice', token: created.id });
    expect(await withToken.deployment('demo').post('/predictions/sentiment', { text: 'great' })).toMatchObject({
      label: 'positive',
    });
    // Outside its list: refused with a typed 403, not a 401.
    expect(await rejectionOf(withToken.deployment('slow').get('/ping'))).toMatchObject({ status: 403 });

    const listed = await alice.tokens.list();
    expect(Object.keys(listed).sort()).toEqual(['next_cursor', 'tokens']);
    expect(listed.next_cursor).toBeNull();
    const mine = listed.tokens.find((t) => t.id === created.id);
    expect(mine).toMatchObject({
      name: 'sdk-test',
      description: 'made by the SDK test',
      ops_access: true,
      endpoint_access: { deployments: ['demo'] },
      prefix: secret.slice(0, mine?.prefix.length),
      state: 'active',
    });
    expect(mine?.prefix.length).toBeLessThan(secret.length / 2);
    expect(mine?.token).toBeUndefined();
    expect(JSON.stringify(listed)).not.toContain(secret);

    await alice.tokens.delete(created.id);
    expect(await rejectionOf(withToken.whoami())).toMatchObject({ status: 401, code: 'CREDENTIAL_UNKNOWN' });
    expect(await rejectionOf(withToken.deployment('demo').get('/ping'))).toMatchObject({ status: 401 });
    expect((await alice.tokens.list()).tokens.map((t) => t.id)).not.toContain(created.id);
  });

  it('follows next_cursor: listAll yields every token across pages, in order', async () => {
    const names = ['page-a', 'page-b', 'page-c', 'page-d', 'page-e'];
    const ids: string[] = [];
    for (const name of names) ids.push((await alice.tokens.create({ name, ops_access: true })).id);

    const first = await alice.tokens.list({ limit: '2' });
    expect(first.tokens).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));

    let pages = 0;
    const counting = new Client(server.urls.management, {
      token: (await alice.tokens.create({ name: 'page-reader', ops_access: true })).token,
      fetch: (input, init) => {
        if (input.includes('/api/v1/tokens')) pages++;
        return fetch(input, init);
      },
    });
    const all = await counting.tokens.listAll({ limit: '2' }).toArray();
    expect(all.map((t) => t.name)).toEqual([...names, 'page-reader']);
    expect(pages).toBe(3);
    // for await stops early without reading further pages.
    pages = 0;
    for await (const token of counting.tokens.listAll({ limit: '2' })) {
      expect(token.name).toBe('page-a');
      break;
    }
    expect(pages).toBe(1);
    for (const id of ids) await alice.tokens.delete(id);
  });

  it("lets an admin list and revoke another user's token; a user sees only their own", async () => {
    const token = await alice.tokens.create({ name: 'alice-own', ops_access: false, endpoint_access: { all: true } });
    const everyone = await admin.tokens.listAll({ all: 'true' }).toArray();
    expect(everyone.find((t) => t.id === token.id)).toMatchObject({ user: 'sdk-alice', name: 'alice-own' });
    expect((await admin.tokens.list({ user: 'sdk-alice' })).tokens.map((t) => t.id)).toContain(token.id);

    const bob = await admin.request('post', '/api/v1/users', {
      body: { username: 'sdk-bob', password: 'another long sdk password' },
    });
    expect(bob).toBeDefined();
    const bobSession = await new Client(server.urls.management).request('post', '/api/v1/sessions', {
      body: { username: 'sdk-bob', password: 'another long sdk password' },
    });
    const asBob = new Client(server.urls.management, { token: bobSession.token });
    expect((await asBob.tokens.list()).tokens).toEqual([]);
    expect(await rejectionOf(asBob.tokens.list({ all: 'true' }))).toMatchObject({
      status: 403,
      code: 'MISSING_GLOBAL_ADMIN',
    });
    expect(await rejectionOf(asBob.tokens.delete(token.id))).toMatchObject({ status: 404 });

    await admin.tokens.delete(token.id);
    const user = admin.deployment('demo', { token: String(token.token) });
    expect(await rejectionOf(user.get('/ping'))).toMatchObject({ status: 401 });
  });

  it('rolls a token: the successor works, the old one is refused at once with no grace', async () => {
    const old = await alice.tokens.create({ name: 'to-roll', ops_access: true });
    const successor = await alice.tokens.roll(old.id);
    expect(successor.token).toMatch(/^mgt_/);
    expect(successor.name).toBe('to-roll');
    const next = new Client(server.urls.management, { token: String(successor.token) });
    expect(await next.whoami()).toMatchObject({ kind: 'user', user: 'sdk-alice', token: successor.id });
    const before = new Client(server.urls.management, { token: String(old.token) });
    expect(await rejectionOf(before.whoami())).toMatchObject({ status: 401 });
  });
});
