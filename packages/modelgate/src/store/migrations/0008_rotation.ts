import { type Kysely, sql } from 'kysely';

/**
 * Rotation with an overlap window (X2) for API tokens and API keys: a rolled credential keeps
 * working until `retires_at`; its successor names it in `predecessor_id`, unique, so two rolls
 * of one credential cannot both make a successor. A token's name stays unique per user among
 * the tokens not being retired (old and new share the name during the grace).
 */
export const rotation = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const table of ['api_tokens', 'api_keys']) {
      await db.schema.alterTable(table).addColumn('retires_at', 'text').execute();
      await db.schema.alterTable(table).addColumn('predecessor_id', 'text').execute();
      await db.schema.createIndex(`${table}_predecessor`).on(table).column('predecessor_id').unique().execute();
    }
    await db.schema.dropIndex('api_tokens_user_name').execute();
    await db.schema
      .createIndex('api_tokens_user_name_current')
      .on('api_tokens')
      .columns(['user_id', 'name'])
      .unique()
      .where(sql.ref('retires_at'), 'is', null)
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('api_tokens_user_name_current').execute();
    await db.schema
      .createIndex('api_tokens_user_name')
      .on('api_tokens')
      .columns(['user_id', 'name'])
      .unique()
      .execute();
    for (const table of ['api_tokens', 'api_keys']) {
      await db.schema.dropIndex(`${table}_predecessor`).execute();
      await db.schema.alterTable(table).dropColumn('predecessor_id').execute();
      await db.schema.alterTable(table).dropColumn('retires_at').execute();
    }
  },
};
