import type { Kysely } from 'kysely';

/**
 * The replicas of a PostgreSQL cluster (issue 20): each registers itself and writes a heartbeat,
 * so a writer knows whose acknowledgement of a change to wait for; and the cluster's one set of
 * node keys, sealed with the master key, so every replica accepts the same keys. Created on
 * SQLite too (one schema), where a single node uses neither.
 */
export const replicas = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('replicas')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text', (c) => c.notNull())
      // Epoch ms by the database's clock, so replicas on hosts whose clocks differ agree.
      .addColumn('heartbeat_ms', 'bigint', (c) => c.notNull())
      // Set by a writer this replica did not acknowledge in time; cleared when it rejoins.
      .addColumn('dropped_at', 'text')
      .execute();
    await db.schema
      .createTable('cluster_node_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('cluster_node_keys').execute();
    await db.schema.dropTable('replicas').execute();
  },
};
