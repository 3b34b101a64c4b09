import { type DemoServer, startDemoServer } from '@modelgate/demo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { call, rawRequest } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { adminQuery, createScratchDatabase } from './helpers/postgres.js';

let demo: DemoServer;
beforeAll(async () => {
  demo = await startDemoServer();
});
afterAll(async () => {
  await demo?.close();
});

describe('routing by Host with base_domain', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ base_domain: 'models.example.test' });
    await manage(t, 'POST', '/deployments', { name: 'pub', upstream: demo.url, access: 'public' });
  });
  afterAll(() => t?.close());

  it('<deployment>.<base_domain> routes the whole path to that deployment; path routing still works', async () => {
    const byHost = await call(`${t.node.urls.inference}/echo/x?q=1`, { headers: { host: 'pub.models.example.test' } });
    expect(byHost.status).toBe(200);
    expect(byHost.json.path).toBe('/echo/x?q=1');
    const byPath = await call(`${t.node.urls.inference}/pub/echo/y`);
    expect(byPath.json.path).toBe('/echo/y');
    const unknown = await call(`${t.node.urls.inference}/echo/x`, { headers: { host: 'nope.models.example.test' } });
    expect(unknown.status).toBe(404);
    const hostile = await rawRequest(t.node.urls.inference, 'GET /../other/x HTTP/1.1', [
      'Host: pub.models.example.test',
    ]);
    expect(hostile.status).toBe(400);
  });
});

describe('the hot path does no store I/O for a known credential (PostgreSQL made unreachable)', () => {
  let t: TestNode;
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let key: string;

  beforeAll(async () => {
    db = await createScratchDatabase();
    t = await startTestNode({ database_url: db.url });
    const created = await manage(t, 'POST', '/deployments', {
      name: 'prot',
      upstream: demo.url,
      access: 'protected',
      api_keys: 1,
    });
    key = created.body.api_keys[0].key;
  });
  afterAll(async () => {
    await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => {});
    await t?.close();
    await db?.drop();
  });

  it('keeps serving known credentials, and answers 503 (never 500) for one it would have to look up', async () => {
    const ping = (credential: string, client: string) =>
      call(`${t.node.urls.inference}/prot/ping`, {
        headers: { authorization: `Bearer ${credential}` },
        localAddress: client,
      });
    expect((await ping(key, '127.0.0.1')).status).toBe(200); // now cached

    await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
    await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}'`);
    const ready = await call(`${t.node.urls.inference}/_health/ready`);
    expect(ready.status).toBe(503);

    for (let i = 0; i < 5; i++) expect((await ping(key, '127.0.0.1')).status).toBe(200);
    expect((await ping(t.keys.inference, '127.0.0.1')).status).toBe(200);
    const unknown = await ping(generateCredential('api_key'), '127.0.0.5');
    expect(unknown.status).toBe(503);
    expect(unknown.json.error.code).toBe('NOT_READY');

    await adminQuery(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`);
    const after = await ping(generateCredential('api_key'), '127.0.0.6');
    expect(after.status).toBe(401);
  });
});
