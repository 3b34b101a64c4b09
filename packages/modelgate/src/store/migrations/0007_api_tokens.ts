import type { Kysely } from 'kysely';

/**
 * API tokens (issue 11, BentoCloud B1–B3): a person's own `mgt_` credentials, stored as SHA-256
 * hashes. A user's tokens go with the user (cascade). `last_used_at` is filled by the node's
 * per-credential usage recorder; nothing here writes it.
 */
export const apiTokens = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('api_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('prefix', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('ops_access', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('endpoint_access', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('last_used_at', 'text')
      .execute();
    // One token of a name per user, so `tokens roll NAME` and scripts can rely on names.
    await db.schema
      .createIndex('api_tokens_user_name')
      .on('api_tokens')
      .columns(['user_id', 'name'])
      .unique()
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('api_tokens').execute();
  },
};
