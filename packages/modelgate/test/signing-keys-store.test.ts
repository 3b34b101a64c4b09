import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Migrator } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../src/store/database.js';
import { allMigrations } from '../src/store/migrations/index.js';
import { storeFor } from './helpers/backends.js';
import { getJson } from './helpers/http.js';
import { startTestNode } from './helpers/in-process-node.js';
import { tempDir } from './helpers/node-process.js';

/**
 * One current signing key, held by the store itself: a second current key cannot be written,
 * stores that a race left with several are repaired by the migration, and replicas starting at
 * once on an empty store agree on one key.
 */
describe.each(['sqlite', 'postgres'] as const)('one current signing key on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function freshStore(): Promise<Store> {
    const backend = await storeFor(dialect);
    const store = await openStore({
      dataDir: join(tempDir(), 'data'),
      databaseUrl: backend.overrides.database_url ?? '',
    });
    cleanups.push(backend.drop, () => store.close());
    return store;
  }

  const key = (kid: string, createdAt: string) => ({
    kid,
    alg: 'EdDSA',
    public_jwk: '{}',
    private_sealed: 'sealed',
    created_at: createdAt,
    retired_at: null,
  });
  const current = (store: Store) =>
    store.db.selectFrom('signing_keys').select('kid').where('retired_at', 'is', null).execute();

  it('refuses a second current key', async () => {
    const store = await freshStore();
    await store.db.insertInto('signing_keys').values(key('sk_a', '2026-01-01T00:00:00.000Z')).execute();
    await expect(
      store.db.insertInto('signing_keys').values(key('sk_b', '2026-01-02T00:00:00.000Z')).execute(),
    ).rejects.toThrow();
    expect(await current(store)).toEqual([{ kid: 'sk_a' }]);
  });

  it('the migration keeps the newest of several current keys and retires the others', async () => {
    const store = await freshStore();
    const migrator = new Migrator({
      db: store.db,
      provider: { getMigrations: async () => allMigrations(store.dialect) },
    });
    // Back to the schema a race could corrupt, then the state it left.
    expect((await migrator.migrateTo('0006_signing_keys')).error).toBeUndefined();
    await store.db
      .insertInto('signing_keys')
      .values([
        key('sk_old', '2026-01-01T00:00:00.000Z'),
        key('sk_new', '2026-01-03T00:00:00.000Z'),
        key('sk_mid', '2026-01-02T00:00:00.000Z'),
      ])
      .execute();
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    expect(await current(store)).toEqual([{ kid: 'sk_new' }]);
    const retired = await store.db
      .selectFrom('signing_keys')
      .select('kid')
      .where('retired_at', 'is not', null)
      .orderBy('kid')
      .execute();
    expect(retired).toEqual([{ kid: 'sk_mid' }, { kid: 'sk_old' }]);
  });

  it.runIf(dialect === 'postgres')(
    'replicas starting at once on an empty store publish one and the same key',
    async () => {
      const backend = await storeFor(dialect);
      const env = { MODELGATE_MASTER_KEY: randomBytes(32).toString('hex') };
      const nodes = await Promise.all(
        [1, 2, 3].map(() => startTestNode({ database_url: backend.overrides.database_url! }, env)),
      );
      cleanups.push(backend.drop, async () => {
        await Promise.all(nodes.map((n) => n.close()));
      });
      const jwks = await Promise.all(nodes.map((n) => getJson(`${n.node.urls.inference}/.well-known/jwks.json`)));
      expect(jwks[0]!.body.keys).toHaveLength(1);
      for (const each of jwks) expect(each.body).toEqual(jwks[0]!.body);
      expect(await current(nodes[0]!.node.store)).toHaveLength(1);
    },
  );
});
