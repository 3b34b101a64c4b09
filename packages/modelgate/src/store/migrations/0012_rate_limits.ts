import type { Kysely } from 'kysely';

/**
 * Per-credential rate limits (X3): a deployment's limit (snapshotted into its revisions, like
 * every setting the gateway enforces) and an API key's or API token's own. JSON text
 * (`{"requests": N, "per": "minute"}`), null for none.
 */
export const rateLimits = {
  async up(db: Kysely<unknown>): Promise<void> {
    for (const table of ['deployments', 'api_keys', 'api_tokens']) {
      await db.schema.alterTable(table).addColumn('rate_limit', 'text').execute();
    }
  },
  async down(db: Kysely<unknown>): Promise<void> {
    for (const table of ['deployments', 'api_keys', 'api_tokens']) {
      await db.schema.alterTable(table).dropColumn('rate_limit').execute();
    }
  },
};
