import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * The audit log (X4): one append-only row per management change, denied management attempt,
 * admin-key CLI command and (rate-bounded) data-plane refusal. Only names and ids, never values.
 */
export function audit(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_log')
        .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('actor_kind', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target_kind', 'text', (c) => c.notNull())
        .addColumn('target_name', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('request_id', 'text')
        .addColumn('client_address', 'text')
        .addColumn('listener', 'text', (c) => c.notNull())
        .execute();
      // Retention deletes by time and `since`/`until` filter by it.
      await db.schema.createIndex('audit_log_time').on('audit_log').column('time').execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('audit_log').execute();
    },
  };
}
