import type { Kysely } from 'kysely';

/**
 * Who wrote each change-log row, so a process skips the changes it already applied when it
 * made them. Rows from before (or from writers that do not say) have '' and reach everyone.
 */
export const changeOrigin = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('change_log')
      .addColumn('origin', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('change_log').dropColumn('origin').execute();
  },
};
