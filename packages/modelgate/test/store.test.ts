import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChangeEvent, createLocalBus } from '../src/kernel/event-bus.js';
import { CHANGE_POLL_MS } from '../src/node/node.js';
import { followChangeLog, recordChange } from '../src/store/change-log.js';
import { openStore, SQLITE_FILE, type Store } from '../src/store/database.js';
import { allMigrations } from '../src/store/migrations/index.js';
import { tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';

interface Target {
  /** Options for `openStore`, ready once `setup` has run. */
  options(): { dataDir: string; databaseUrl: string };
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

function sqliteTarget(): Target {
  let dataDir = '';
  return {
    options: () => ({ dataDir, databaseUrl: '' }),
    async setup() {
      dataDir = join(tempDir(), 'data');
    },
    async teardown() {},
  };
}

function postgresTarget(): Target {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  return {
    options: () => ({ dataDir: join(tempDir(), 'unused'), databaseUrl: scratch?.url ?? '' }),
    async setup() {
      scratch = await createScratchDatabase();
    },
    async teardown() {
      await scratch?.drop();
    },
  };
}

function adminKey(n: number) {
  return {
    id: `ak_${n}`,
    prefix: `mga_${n}`,
    hash: `hash-${n}-${'0'.repeat(40)}`,
    description: `key ${n}`,
    created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    last_used_at: null,
  };
}

describe.each([
  ['sqlite', sqliteTarget()],
  ['postgres', postgresTarget()],
] as const)('store on %s', (dialect, target) => {
  const open: Store[] = [];
  async function openTracked(): Promise<Store> {
    const store = await openStore(target.options());
    open.push(store);
    return store;
  }

  beforeAll(() => target.setup());
  afterAll(async () => {
    for (const store of open) await store.close().catch(() => {});
    await target.teardown();
  });

  it('runs the migrations, and opening again is idempotent', async () => {
    const first = await openTracked();
    expect(first.dialect).toBe(dialect);
    await first.ping();
    const second = await openTracked();
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(second.db);
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(allMigrations(dialect)).sort());
    expect(applied.rows[0]?.name).toBe('0001_initial');
    expect(await second.db.selectFrom('admin_keys').selectAll().execute()).toEqual([]);
    if (dialect === 'sqlite') {
      expect(existsSync(join(target.options().dataDir, SQLITE_FILE))).toBe(true);
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(second.db);
      expect(mode.rows[0]?.journal_mode).toBe('wal');
    }
  });

  it('inserts, selects and deletes admin keys', async () => {
    const store = await openTracked();
    await store.db
      .insertInto('admin_keys')
      .values([adminKey(1), adminKey(2)])
      .execute();
    const rows = await store.db.selectFrom('admin_keys').selectAll().orderBy('id').execute();
    expect(rows).toEqual([adminKey(1), adminKey(2)]);
    const one = await store.db.selectFrom('admin_keys').select('id').where('hash', '=', adminKey(2).hash).execute();
    expect(one).toEqual([{ id: 'ak_2' }]);
    await store.db
      .updateTable('admin_keys')
      .set({ last_used_at: '2026-02-01T00:00:00.000Z' })
      .where('id', '=', 'ak_1')
      .execute();
    const used = await store.db
      .selectFrom('admin_keys')
      .select('last_used_at')
      .where('id', '=', 'ak_1')
      .executeTakeFirst();
    expect(used?.last_used_at).toBe('2026-02-01T00:00:00.000Z');
    const deleted = await store.db.deleteFrom('admin_keys').where('id', '=', 'ak_1').executeTakeFirst();
    expect(Number(deleted.numDeletedRows)).toBe(1);
    expect(await store.db.selectFrom('admin_keys').select('id').execute()).toEqual([{ id: 'ak_2' }]);
  });

  it('refuses a second admin key with the same hash', async () => {
    const store = await openTracked();
    await store.db.insertInto('admin_keys').values(adminKey(3)).execute();
    await expect(
      store.db
        .insertInto('admin_keys')
        .values({ ...adminKey(3), id: 'ak_other' })
        .execute(),
    ).rejects.toThrow(/unique/i);
    const same = await store.db.selectFrom('admin_keys').select('id').where('hash', '=', adminKey(3).hash).execute();
    expect(same).toEqual([{ id: 'ak_3' }]);
  });

  it('inserts, selects and deletes change log rows with increasing ids', async () => {
    const store = await openTracked();
    await recordChange(store, 'jwt.revoked', 'a');
    await recordChange(store, 'jwt.revoked', 'b');
    const rows = await store.db
      .selectFrom('change_log')
      .select(['id', 'topic', 'subject', 'created_at'])
      .where('topic', '=', 'jwt.revoked')
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.subject)).toEqual(['a', 'b']);
    expect(Number(rows[1]?.id)).toBeGreaterThan(Number(rows[0]?.id));
    expect(Date.parse(rows[0]?.created_at ?? '')).not.toBeNaN();
    await store.db.deleteFrom('change_log').where('topic', '=', 'jwt.revoked').execute();
    expect(await store.db.selectFrom('change_log').select('id').where('topic', '=', 'jwt.revoked').execute()).toEqual(
      [],
    );
  });

  it('delivers a change written by a second Store instance, once each and in order; a topic it does not know is skipped', async () => {
    const server = await openTracked();
    const cli = await openTracked();
    // Rows written before following are history, not news.
    await recordChange(cli, 'admin_key.deleted', 'old');
    const bus = createLocalBus();
    const seen: ChangeEvent[] = [];
    bus.subscribe((e) => {
      seen.push(e);
    });
    const feed = await followChangeLog(server, bus, { intervalMs: CHANGE_POLL_MS });
    try {
      await recordChange(cli, 'admin_key.deleted', 'ak_42');
      await expect.poll(() => seen.map((e) => e.subject), { timeout: 5000, interval: 20 }).toContain('ak_42');
      expect(seen.map((e) => e.subject)).not.toContain('old');
      const event = seen.find((e) => e.subject === 'ak_42');
      expect(event?.topic).toBe('admin_key.deleted');
      // Later changes arrive in order, each once; a newer replica's topic (unknown here) is skipped.
      await recordChange(cli, 'deployment.changed', 'd1');
      await cli.db
        .insertInto('change_log')
        .values({ topic: 'gadget.changed', subject: 'g1', created_at: new Date().toISOString(), origin: 'elsewhere' })
        .execute();
      await recordChange(cli, 'deployment.changed', 'd2');
      await expect.poll(() => seen.length, { timeout: 5000, interval: 20 }).toBe(3);
      expect(seen.map((e) => e.subject)).toEqual(['ak_42', 'd1', 'd2']);
    } finally {
      feed.stop();
    }
  });
});

describe('SQLite durability', () => {
  it('a row written before kill -9 is there after reopening', async () => {
    const dataDir = join(tempDir(), 'data');
    const databaseJs = pathToFileURL(resolve(import.meta.dirname, '../dist/store/database.js')).href;
    const script = `
      import { openStore } from ${JSON.stringify(databaseJs)};
      const store = await openStore({ dataDir: ${JSON.stringify(dataDir)}, databaseUrl: '' });
      await store.db.insertInto('admin_keys').values({
        id: 'ak_durable', prefix: 'mga_dur', hash: 'durable-hash', description: 'written before kill -9',
        created_at: new Date().toISOString(), last_used_at: null,
      }).execute();
      process.stdout.write('written\\n');
      // Hold the store: a collected better-sqlite3 handle closes cleanly (checkpoint), which is not the case under test.
      globalThis.heldStore = store;
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<string | number>((res) => child.on('exit', (code, signal) => res(signal ?? code ?? -1)));
    await expect.poll(() => output, { timeout: 10_000, interval: 20 }).toContain('written');
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // WAL mode: the committed row sits in the -wal file until a checkpoint; recovery must find it.
    expect(existsSync(join(dataDir, `${SQLITE_FILE}-wal`))).toBe(true);

    const store = await openStore({ dataDir, databaseUrl: '' });
    try {
      const row = await store.db.selectFrom('admin_keys').selectAll().where('id', '=', 'ak_durable').executeTakeFirst();
      expect(row?.description).toBe('written before kill -9');
      expect(row?.hash).toBe('durable-hash');
    } finally {
      await store.close();
    }
  });
});
