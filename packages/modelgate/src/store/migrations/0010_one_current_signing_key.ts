import { type Kysely, sql } from 'kysely';

/**
 * At most one current (unretired) signing key, enforced by the database: a partial unique index
 * on `retired_at IS NULL`. Stores where concurrent rotations or two replicas starting at once
 * left several current keys keep the newest (the one that was signing) and retire the others
 * now; their tokens stay valid while the retired keys are published.
 */
export const oneCurrentSigningKey = {
  async up(untyped: Kysely<unknown>): Promise<void> {
    // The columns as 0006 made them (the app's schema type may move on; this migration may not).
    const db = untyped as unknown as Kysely<{
      signing_keys: { kid: string; created_at: string; retired_at: string | null };
    }>;
    const current = await db
      .selectFrom('signing_keys')
      .select('kid')
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute();
    const older = current.slice(1).map((row) => row.kid);
    if (older.length > 0) {
      await db
        .updateTable('signing_keys')
        .set({ retired_at: new Date().toISOString() })
        .where('kid', 'in', older)
        .execute();
    }
    await sql`create unique index signing_keys_one_current on signing_keys ((retired_at is null)) where retired_at is null`.execute(
      db,
    );
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.dropIndex('signing_keys_one_current').execute();
  },
};
