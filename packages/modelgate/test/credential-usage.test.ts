import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageRecorder } from '../src/dataplane/usage-recorder.js';
import { addCredentialUsage, credentialUsageOf, type UsageIncrement } from '../src/store/credential-usage.js';
import { openStore, type Store } from '../src/store/database.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd, tempDir } from './helpers/node-process.js';
import { api, userWithSession } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

describe('UsageRecorder: counted in memory, written in batches', () => {
  function recorder(fail = 0) {
    const writes: UsageIncrement[][] = [];
    let failures = fail;
    const usage = new UsageRecorder({
      kinds: ['api_key'],
      intervalMs: 0,
      write: async (batch) => {
        if (failures-- > 0) throw new Error('store down');
        writes.push([...batch].sort((a, b) => a.credentialId.localeCompare(b.credentialId)));
      },
    });
    return { usage, writes };
  }

  it('one batch per flush, one increment per credential, the latest use kept; other kinds ignored', async () => {
    const { usage, writes } = recorder();
    for (let i = 0; i < 5; i++) usage.record('api_key', 'a', Date.UTC(2026, 0, 1, 0, 0, i));
    usage.record('api_key', 'b', Date.UTC(2026, 0, 2));
    usage.record('api_key', 'b', Date.UTC(2025, 0, 1));
    usage.record('inference_key', 'node:inference', Date.UTC(2026, 0, 3));
    usage.record('anonymous', 'anonymous', Date.UTC(2026, 0, 3));
    expect(writes).toEqual([]);
    await usage.flush();
    expect(writes).toEqual([
      [
        { kind: 'api_key', credentialId: 'a', requests: 5, lastUsedAt: '2026-01-01T00:00:04.000Z' },
        { kind: 'api_key', credentialId: 'b', requests: 2, lastUsedAt: '2026-01-02T00:00:00.000Z' },
      ],
    ]);
    await usage.flush();
    expect(writes).toHaveLength(1);
  });

  it('a failed write keeps the counts for the next flush, added to what came meanwhile', async () => {
    const { usage, writes } = recorder(1);
    usage.record('api_key', 'a', 1000);
    usage.record('api_key', 'a', 2000);
    await usage.flush();
    expect(writes).toEqual([]);
    usage.record('api_key', 'a', 3000);
    await usage.flush();
    expect(writes).toEqual([
      [{ kind: 'api_key', credentialId: 'a', requests: 3, lastUsedAt: new Date(3000).toISOString() }],
    ]);
  });

  it('close() writes the last counts', async () => {
    const { usage, writes } = recorder();
    usage.record('api_key', 'a', 1000);
    await usage.close();
    expect(writes.flat().map((w) => w.requests)).toEqual([1]);
  });

  it('many pending credentials start a flush early (bounded memory)', async () => {
    const writes: number[] = [];
    const usage = new UsageRecorder({
      kinds: ['api_key'],
      intervalMs: 0,
      maxPending: 10,
      write: async (batch) => {
        writes.push(batch.length);
      },
    });
    for (let i = 0; i < 25; i++) {
      usage.record('api_key', `k${i}`, 1000);
      // Between requests, the flush the bound started runs.
      if (i % 5 === 4) await new Promise((r) => setImmediate(r));
    }
    expect(writes.length).toBeGreaterThanOrEqual(2);
    await usage.flush();
    expect(writes.reduce((a, b) => a + b, 0)).toBe(25);
  });
});

describe.each(STORE_BACKENDS)('per-API-key usage on $name', (backend) => {
  let t: TestNode;
  let upstream: TestUpstream;
  let drop: () => Promise<void>;
  let overrides: Record<string, string>;
  let keys: { id: string; key: string }[];

  beforeAll(async () => {
    upstream = await recordingUpstream('usage');
    ({ overrides, drop } = await backend.setup());
    t = await startTestNode({ ...overrides, usage_flush_interval_ms: '100' });
    const made = await deploy(t, { name: 'metered', upstream: upstream.url, access: 'protected', api_keys: 3 });
    keys = made.api_keys;
  });

  afterAll(async () => {
    await t?.close();
    await upstream?.close();
    await drop?.();
  });

  async function listed(): Promise<Map<string, { requests: number; last_used_at: string | null }>> {
    const res = await manage(t, 'GET', '/api-keys?deployment=metered');
    expect(res.status).toBe(200);
    return new Map(res.body.api_keys.map((k: any) => [k.id, { requests: k.requests, last_used_at: k.last_used_at }]));
  }

  /** Polls the API until the counts are written (the flush runs every 100 ms). */
  async function waitForRequests(id: string, requests: number) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const usage = (await listed()).get(id);
      if (usage?.requests === requests || Date.now() > deadline) return usage;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('requests and last use per key appear in GET /api-keys and `api-keys list` after a flush', async () => {
    const before = new Date().toISOString();
    const [a, b, unused] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${t.node.urls.inference}/metered/x`, { headers: { authorization: `Bearer ${a.key}` } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${t.node.urls.inference}/metered/x`, { headers: { authorization: `Bearer ${b.key}` } });
      await res.arrayBuffer();
    }
    const usageA = await waitForRequests(a.id, 5);
    const usageB = await waitForRequests(b.id, 2);
    const after = new Date().toISOString();
    expect(usageA?.requests).toBe(5);
    expect(usageB?.requests).toBe(2);
    for (const u of [usageA, usageB]) {
      expect(
        (u?.last_used_at ?? '') >= before && (u?.last_used_at ?? '') <= after,
        `${u?.last_used_at} in [${before}, ${after}]`,
      ).toBe(true);
    }
    expect((await listed()).get(unused.id)).toEqual({ requests: 0, last_used_at: null });

    const cli = await runCliToEnd(
      [
        'api-keys',
        'list',
        '--deployment',
        'metered',
        '--endpoint',
        t.node.urls.management,
        '--api-token',
        t.keys.management,
      ],
      { cwd: tempDir() },
    );
    expect(cli.code, cli.all).toBe(0);
    expect(cli.stdout).toMatch(/REQUESTS\s+LAST USED/);
    expect(cli.stdout).toMatch(new RegExp(`^${a.id}\\s.*\\s5\\s+${usageA?.last_used_at}$`, 'm'));
    expect(cli.stdout).toMatch(new RegExp(`^${unused.id}\\s.*\\s0\\s+never$`, 'm'));
  });

  it('an API token counts too: requests and last use in GET /tokens after a flush; deleting it takes its usage', async () => {
    const group = await api(t, t.keys.management, 'POST', '/groups', { name: 'admins-usage', privileges: ['admin'] });
    expect(group.status, group.text).toBe(201);
    const session = await userWithSession(t, 'meter-reader', ['admins-usage']);
    const made = await api(t, session, 'POST', '/tokens', { name: 'metered', endpoint_access: { all: true } });
    expect(made.status, made.text).toBe(201);
    const before = new Date().toISOString();
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${t.node.urls.inference}/metered/x`, {
        headers: { authorization: `Bearer ${made.body.token}` },
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const deadline = Date.now() + 15_000;
    let mine: { requests: number; last_used_at: string | null } | undefined;
    for (;;) {
      const listed = await api(t, session, 'GET', '/tokens');
      expect(listed.status).toBe(200);
      mine = listed.body.tokens.find((k: { id: string }) => k.id === made.body.id);
      if (mine?.requests === 3 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(mine?.requests).toBe(3);
    expect((mine?.last_used_at ?? '') >= before).toBe(true);
    expect((await api(t, session, 'DELETE', `/tokens/${made.body.id}`)).status).toBe(204);
    const rows = await t.node.store.db
      .selectFrom('credential_usage')
      .selectAll()
      .where('credential_id', '=', made.body.id)
      .execute();
    expect(rows).toEqual([]);
  });

  it('a deleted key takes its usage with it', async () => {
    const a = keys[0]!;
    expect((await manage(t, 'DELETE', `/api-keys/${a.id}`)).status).toBe(204);
    const rows = await t.node.store.db
      .selectFrom('credential_usage')
      .selectAll()
      .where('credential_id', '=', a.id)
      .execute();
    expect(rows).toEqual([]);
  });

  it('writers in several processes add up: concurrent batches for one key lose nothing', async () => {
    const stores: Store[] = [];
    try {
      for (let i = 0; i < 4; i++)
        stores.push(await openStore({ dataDir: t.node.config.data_dir, databaseUrl: t.node.config.database_url }));
      const at = (s: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString();
      const batch = (i: number) =>
        addCredentialUsage(stores[i % stores.length]!, [
          { kind: 'api_key', credentialId: 'shared', requests: 3, lastUsedAt: at(i) },
          { kind: 'api_key', credentialId: `own-${i}`, requests: 1, lastUsedAt: at(i) },
        ]);
      if (backend.name === 'PostgreSQL') {
        await Promise.all(Array.from({ length: 20 }, (_, i) => batch(i)));
      } else {
        // better-sqlite3 waits for the file lock synchronously: in one process, connections must
        // take turns (the workers of a node are separate processes, where the lock wait is real).
        for (let i = 0; i < 20; i++) await batch(i);
      }
      const usage = await credentialUsageOf(t.node.store, 'api_key', ['shared', 'own-0', 'own-19']);
      expect(usage.get('shared')).toEqual({ requests: 60, last_used_at: at(19) });
      expect(usage.get('own-19')).toEqual({ requests: 1, last_used_at: at(19) });
      // An older use never moves last_used_at back.
      await addCredentialUsage(t.node.store, [
        { kind: 'api_key', credentialId: 'shared', requests: 1, lastUsedAt: at(0) },
      ]);
      expect((await credentialUsageOf(t.node.store, 'api_key', ['shared'])).get('shared')).toEqual({
        requests: 61,
        last_used_at: at(19),
      });
    } finally {
      for (const s of stores) await s.close();
    }
  });
});

describe.each(STORE_BACKENDS)('usage pending at shutdown is written on $name', (backend) => {
  it('a node stopped before its next flush still writes the counts', async () => {
    const upstream = await recordingUpstream('usage-shutdown');
    const { overrides, drop } = await backend.setup();
    try {
      const t = await startTestNode({ ...overrides, usage_flush_interval_ms: '3600000' });
      const { api_keys } = await deploy(t, { name: 'late', upstream: upstream.url, access: 'protected', api_keys: 1 });
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${t.node.urls.inference}/late/x`, {
          headers: { authorization: `Bearer ${api_keys[0].key}` },
        });
        await res.arrayBuffer();
      }
      const dataDir = t.node.config.data_dir;
      const databaseUrl = t.node.config.database_url;
      await t.close();
      const store = await openStore({ dataDir, databaseUrl });
      try {
        const usage = await credentialUsageOf(store, 'api_key', [api_keys[0].id]);
        expect(usage.get(api_keys[0].id)?.requests).toBe(3);
      } finally {
        await store.close();
      }
    } finally {
      await upstream.close();
      await drop();
    }
  });
});
