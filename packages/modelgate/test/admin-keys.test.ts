import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { getJson } from './helpers/http.js';
import { type NodeProcess, runCli, startNodeProcess, tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';

/** Runs a CLI command to completion. */
async function cli(args: string[], cwd: string) {
  const proc = runCli(args, { cwd });
  const code = await proc.exited;
  return { code, out: proc.output() };
}

const backends = [
  { name: 'SQLite', setup: async () => ({ flags: ['--data-dir', `${tempDir()}/data`], drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    setup: async () => {
      const db = await createScratchDatabase();
      return { flags: ['--database-url', db.url], drop: () => db.drop() };
    },
  },
];

describe.each(backends)('D1 admin keys on $name', ({ setup }) => {
  let flags: string[];
  let drop: () => Promise<void>;
  let node: NodeProcess;
  const cwd = tempDir();

  beforeAll(async () => {
    ({ flags, drop } = await setup());
    node = await startNodeProcess(flags, { cwd });
  });
  afterAll(async () => {
    await node?.stop();
    await drop?.();
  });

  it('create prints the key once; list shows id, prefix, description, dates, never the key', async () => {
    const created = await cli(['admin-key-create', '--description', 'nightly deploys', ...flags], cwd);
    expect(created.code).toBe(0);
    const key = /^(mga_[0-9A-Za-z]{36})$/m.exec(created.out)?.[1];
    expect(key).toBeDefined();
    expect(created.out).toMatch(/cannot be shown again/);

    const listed = await cli(['admin-keys-list', '--output', 'json', ...flags], cwd);
    expect(listed.code).toBe(0);
    const rows = (JSON.parse(listed.out) as { items: Record<string, unknown>[] }).items;
    const row = rows.find((r) => r.description === 'nightly deploys');
    expect(row).toMatchObject({ prefix: key!.slice(0, 8), last_used_at: null });
    expect(Object.keys(row!).sort()).toEqual(['created_at', 'description', 'id', 'last_used_at', 'prefix']);
    expect(listed.out).not.toContain(key!.slice(8));

    const table = await cli(['admin-keys-list', ...flags], cwd);
    expect(table.out).toMatch(/^ID\s+PREFIX\s+DESCRIPTION\s+CREATED\s+LAST USED$/m);
    expect(table.out).toContain(String(row!.id));
    expect(table.out).not.toContain(key!.slice(8));
  });

  it('an admin key is full control of the management API; deletion by key is seen within a couple of change-log polls', async () => {
    const created = await cli(['admin-key-create', '--output', 'json', ...flags], cwd);
    const { key, id } = JSON.parse(created.out) as { key: string; id: string };
    const who = await getJson(`${node.urls.management}/api/v1/whoami`, key);
    expect(who).toMatchObject({ status: 200, body: { kind: 'admin_key', id } });
    // Second call is served from the verifier's cache: eviction, not a fresh lookup, must revoke it.
    expect((await getJson(`${node.urls.management}/api/v1/whoami`, key)).status).toBe(200);

    const deleted = await cli(['admin-key-delete', key, ...flags], cwd);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toContain(`Deleted admin key ${id}`);
    // The CLI deleted it in the store: the node learns it from the change log, through its change-log poll.
    const after = await vi.waitFor(
      async () => {
        const res = await getJson(`${node.urls.management}/api/v1/whoami`, key);
        expect(res.status).toBe(401);
        return res;
      },
      { timeout: 5_000, interval: 25 },
    );
    expect(after.body.error?.code).toBe('CREDENTIAL_UNKNOWN');
  });

  it('deletion by id works too, and an unknown key or id is a clear failure', async () => {
    const created = await cli(['admin-key-create', '--output', 'json', ...flags], cwd);
    const { key, id } = JSON.parse(created.out) as { key: string; id: string };
    expect((await getJson(`${node.urls.management}/api/v1/whoami`, key)).status).toBe(200);
    expect((await cli(['admin-key-delete', id, ...flags], cwd)).code).toBe(0);
    await vi.waitFor(
      async () => expect((await getJson(`${node.urls.management}/api/v1/whoami`, key)).status).toBe(401),
      { timeout: 5_000, interval: 25 },
    );

    const again = await cli(['admin-key-delete', id, ...flags], cwd);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/error \[RESOURCE_NOT_FOUND\]: No such admin key/);
  });

  it('records last use', async () => {
    const created = await cli(['admin-key-create', '--output', 'json', ...flags], cwd);
    const { key, id } = JSON.parse(created.out) as { key: string; id: string };
    await getJson(`${node.urls.management}/api/v1/whoami`, key);
    // Last use is written off the request path: poll the store through the CLI until it shows.
    await vi.waitFor(
      async () => {
        const rows = (
          JSON.parse((await cli(['admin-keys-list', '--output', 'json', ...flags], cwd)).out) as {
            items: { id: string; last_used_at: string | null }[];
          }
        ).items;
        expect(rows.find((r) => r.id === id)?.last_used_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      },
      { timeout: 10_000, interval: 50 },
    );
  });
});

describe('admin key commands without a server', () => {
  it('work on the store directly; a new store only with --init', async () => {
    const cwd = tempDir();
    const created = await cli(['admin-key-create', '--output', 'json', '--init'], cwd);
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.out) as { id: string };
    const listed = await cli(['admin-keys-list', '--output', 'json'], cwd);
    expect((JSON.parse(listed.out) as { items: { id: string }[] }).items.map((r) => r.id)).toEqual([id]);
  });
});

describe('store commands never create a store by mistake', () => {
  it.each(['admin-key-create', 'admin-keys-list'])(
    '%s in a directory without a store exits 1 naming the data dir it looked in, and creates nothing',
    async (command) => {
      const cwd = tempDir();
      const r = await cli([command, '--data-dir', 'typo-dir'], cwd);
      expect(r.code).toBe(1);
      expect(r.out).toContain(`no modelgate store in the data dir ${realpathSync(cwd)}/typo-dir`);
      expect(r.out).toContain('--init');
      expect(r.out).toContain('[STORE_NOT_FOUND]');
      expect(existsSync(join(cwd, 'typo-dir'))).toBe(false);
    },
  );

  it('admin-key-delete without a store is refused the same way', async () => {
    const cwd = tempDir();
    const r = await cli(['admin-key-delete', 'adm_x'], cwd);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`no modelgate store in the data dir ${realpathSync(cwd)}/.modelgate`);
    expect(existsSync(join(cwd, '.modelgate'))).toBe(false);
  });

  it('an empty PostgreSQL database is refused without --init and migrated with it', async () => {
    const db = await createScratchDatabase();
    try {
      const cwd = tempDir();
      const refused = await cli(['admin-keys-list', '--database-url', db.url], cwd);
      expect(refused.code).toBe(1);
      expect(refused.out).toContain('no modelgate store in the database postgres://');
      const created = await cli(['admin-key-create', '--output', 'json', '--init', '--database-url', db.url], cwd);
      expect(created.code, created.out).toBe(0);
      expect((await cli(['admin-keys-list', '--database-url', db.url], cwd)).code).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
