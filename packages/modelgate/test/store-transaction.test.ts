import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditIntent } from '../src/controlplane/audit/intent.js';
import { ModelgateError } from '../src/kernel/errors.js';
import type { AuditRecord } from '../src/store/audit-record.js';
import { openStore, type Store } from '../src/store/database.js';
import { classifyStoreError, inTransaction, rowNoun, toConflict, withCommitRider } from '../src/store/transaction.js';
import { tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';

/** The one transaction helper every control write goes through (issue 7, defect class 4). */

describe('classifying driver errors', () => {
  it.each([
    [{ code: '23505' }, 'unique'],
    [{ code: 'SQLITE_CONSTRAINT_UNIQUE' }, 'unique'],
    [{ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, 'unique'],
    [{ code: '23503' }, 'foreign_key'],
    [{ code: 'SQLITE_CONSTRAINT_FOREIGNKEY' }, 'foreign_key'],
    [{ code: '40P01' }, 'retry'],
    [{ code: '40001' }, 'retry'],
    [{ code: 'SQLITE_BUSY' }, 'busy'],
    [{ code: 'SQLITE_BUSY_SNAPSHOT' }, 'busy'],
    [{ code: '23514' }, undefined],
    [{ code: 'SQLITE_CONSTRAINT_TRIGGER' }, undefined],
    [new Error('plain'), undefined],
    [null, undefined],
    [{ code: 23505 }, undefined],
    [new ModelgateError('RESOURCE_CONFLICT'), undefined],
  ])('%o is %s', (err, kind) => {
    expect(classifyStoreError(err)).toBe(kind);
  });

  it('a unique violation names the kind of row, never the value (a unique column can hold a hash)', () => {
    const pg = toConflict({
      code: '23505',
      table: 'api_keys',
      detail: 'Key (hash)=(5e884898da28047151d0e56f8dc62927) already exists.',
      message: 'duplicate key value violates unique constraint "api_keys_hash_key"',
    });
    expect(pg).toBeInstanceOf(ModelgateError);
    expect(pg).toMatchObject({ code: 'RESOURCE_CONFLICT', status: 409 });
    expect(pg!.message).toContain('api key');
    expect(pg!.message).not.toContain('5e8848');
    const sqlite = toConflict({ code: 'SQLITE_CONSTRAINT_UNIQUE', message: 'UNIQUE constraint failed: secrets.name' });
    expect(sqlite!.message).toContain('A secret with the same name');
    expect(toConflict({ code: '23503' })).toMatchObject({ code: 'WRITE_CONFLICT', status: 409 });
    expect(toConflict(new Error('boom'))).toBeUndefined();
  });

  it.each([
    ['service_versions', 'service version'],
    ['infrastructures', 'infrastructure'],
    ['deployments', 'deployment'],
    [undefined, 'resource'],
    ['Robert"); DROP', 'resource'],
  ])('row noun of %s is %s', (table, noun) => {
    expect(rowNoun(table)).toBe(noun);
  });
});

const backends = [
  { label: 'PostgreSQL', open: async () => createScratchDatabase() },
  { label: 'SQLite', open: async () => ({ url: '', drop: async () => {} }) },
];

describe.each(backends)('inTransaction on $label', ({ open }) => {
  let db: { url: string; drop(): Promise<void> };
  let first: Store;
  let second: Store;
  beforeAll(async () => {
    db = await open();
    const dataDir = join(tempDir(), 'data');
    first = await openStore({ dataDir, databaseUrl: db.url });
    second = await openStore({ dataDir, databaseUrl: db.url });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await db?.drop();
  });

  const infra = (name: string) => ({ id: `inf_${name}`, name, description: '', created_at: '2026-01-01T00:00:00Z' });
  const names = async () =>
    (await first.db.selectFrom('infrastructures').select('name').orderBy('name').execute()).map((r) => r.name);

  it('a nested call joins the outer transaction: one failure rolls back both', async () => {
    await expect(
      inTransaction(first, async (tx) => {
        await tx.db.insertInto('infrastructures').values(infra('outer')).execute();
        await inTransaction(tx, async (inner) => {
          await inner.db.insertInto('infrastructures').values(infra('inner')).execute();
        });
        throw new Error('fails after both inserts');
      }),
    ).rejects.toThrow('fails after both inserts');
    expect(await names()).not.toContain('outer');
    expect(await names()).not.toContain('inner');
  });

  it('a duplicate insert rolls back the whole transaction and is a 409 RESOURCE_CONFLICT', async () => {
    await inTransaction(first, (tx) => tx.db.insertInto('infrastructures').values(infra('taken')).execute());
    const err = await inTransaction(second, async (tx) => {
      await tx.db.insertInto('infrastructures').values(infra('collateral')).execute();
      await tx.db
        .insertInto('infrastructures')
        .values({ ...infra('taken'), id: 'inf_other' })
        .execute();
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'RESOURCE_CONFLICT', status: 409 });
    expect(await names()).not.toContain('collateral');
  });

  it('a commit rider is written by the first transaction that commits, after a rolled-back one, and once', async () => {
    const writes: string[] = [];
    // The audit intent, writing a row of its own in place of an audit record.
    const rider = new AuditIntent(
      () => ({}) as AuditRecord,
      async (tx) => {
        writes.push('rider');
        await tx.db.insertInto('infrastructures').values(infra('rider-row')).execute();
        // The first time, the rider's own row is refused: the work's rows must go with it.
        if (writes.length === 1) throw new Error('rider refused');
      },
    );
    await withCommitRider(rider, async () => {
      // The work fails: the rider is not written. Then the rider fails: the work is rolled back.
      // Both times the next transaction takes the rider.
      await inTransaction(first, async (tx) => {
        await tx.db.insertInto('infrastructures').values(infra('ride-0')).execute();
        await tx.db.insertInto('infrastructures').values(infra('ride-0')).execute();
      }).catch(() => {});
      await expect(
        inTransaction(first, (tx) => tx.db.insertInto('infrastructures').values(infra('ride-a')).execute()),
      ).rejects.toThrow('rider refused');
      await inTransaction(first, (tx) => tx.db.insertInto('infrastructures').values(infra('ride-b')).execute());
      await inTransaction(first, (tx) => tx.db.insertInto('infrastructures').values(infra('ride-c')).execute());
    });
    // Outside the rider's scope nothing rides.
    await inTransaction(first, (tx) => tx.db.insertInto('infrastructures').values(infra('ride-d')).execute());
    expect(writes).toEqual(['rider', 'rider']);
    expect(rider.written).toBe(true);
    expect(rider.close()).toBe(false);
    expect((await names()).filter((n) => n.startsWith('ride'))).toEqual(['ride-b', 'ride-c', 'ride-d', 'rider-row']);
  });
});

// SQLite has one writer at a time (BEGIN IMMEDIATE), so only PostgreSQL can deadlock.
describe('inTransaction on PostgreSQL under a deadlock', () => {
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let first: Store;
  let second: Store;
  beforeAll(async () => {
    db = await createScratchDatabase();
    first = await openStore({ dataDir: '', databaseUrl: db.url });
    second = await openStore({ dataDir: '', databaseUrl: db.url });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
    await db?.drop();
  });
  const infra = (name: string) => ({ id: `inf_${name}`, name, description: '', created_at: '2026-01-01T00:00:00Z' });

  it('a deadlock victim is re-run, so both writers succeed', async () => {
    await first.db
      .insertInto('infrastructures')
      .values([infra('lock-a'), infra('lock-b')])
      .execute();
    let runs = 0;
    let arrived = 0;
    let release!: () => void;
    const bothHoldOne = new Promise<void>((r) => {
      release = r;
    });
    // Each takes one row, waits until the other holds the other row, then asks for it: a cycle.
    const crossing = (store: Store, mine: string, theirs: string) =>
      inTransaction(store, async (tx) => {
        runs++;
        await tx.db.updateTable('infrastructures').set({ description: mine }).where('name', '=', mine).execute();
        if (++arrived === 2) release();
        await bothHoldOne;
        await tx.db.updateTable('infrastructures').set({ description: mine }).where('name', '=', theirs).execute();
        return mine;
      });
    const results = await Promise.all([crossing(first, 'lock-a', 'lock-b'), crossing(second, 'lock-b', 'lock-a')]);
    expect(results).toEqual(['lock-a', 'lock-b']);
    // At least one victim ran again (under load PostgreSQL may abort both of the cycle).
    expect(runs).toBeGreaterThanOrEqual(3);
  });
});
