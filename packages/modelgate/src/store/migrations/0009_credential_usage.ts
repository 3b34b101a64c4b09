import type { Kysely } from 'kysely';

/**
 * Per-credential usage (issue 10, X6): how many requests a credential made and when it was last
 * used, keyed by credential kind and id so any kind (API keys, API tokens, ...) can be counted.
 * Written in batches by every data-plane process (`requests = requests + n`), never on the
 * request path. No foreign key: the kinds live in different tables, and a row whose credential
 * is gone is deleted with it (or is harmless: ids are never reused).
 */
export const credentialUsage = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('credential_usage')
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('credential_id', 'text', (c) => c.notNull())
      // 64-bit: a busy key passes 2^31 requests in weeks.
      .addColumn('requests', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_used_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('credential_usage_pk', ['kind', 'credential_id'])
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropTable('credential_usage').execute();
  },
};
