import { sql } from 'kysely';
import type { Store } from './database.js';
import { inTransaction } from './transaction.js';

/** Requests one credential made since the last flush, and when it was last used. */
export interface UsageIncrement {
  /** The principal kind (`api_key`, `api_token`, ...). */
  readonly kind: string;
  readonly credentialId: string;
  readonly requests: number;
  /** ISO-8601 UTC. */
  readonly lastUsedAt: string;
}

/** What is stored for one credential. */
export interface CredentialUsage {
  readonly requests: number;
  readonly last_used_at: string;
}

/** Rows per statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_STATEMENT = 200;

/**
 * Adds a batch of increments in one transaction. Additive (`requests = requests + n`), so
 * several processes flushing the same credential never lose each other's counts, and
 * `last_used_at` only moves forward. Rows are written in key order, so two writers on
 * PostgreSQL lock them in the same order (no deadlock between flushes).
 *
 * @example
 * ```ts
 * await addCredentialUsage(store, [{ kind: 'api_key', credentialId: 'key_1', requests: 3, lastUsedAt: new Date().toISOString() }]);
 * ```
 */
export async function addCredentialUsage(store: Store, batch: readonly UsageIncrement[]): Promise<void> {
  if (batch.length === 0) return;
  const rows = batch
    .map((u) => ({ kind: u.kind, credential_id: u.credentialId, requests: u.requests, last_used_at: u.lastUsedAt }))
    .sort((a, b) => compare(a.kind, b.kind) || compare(a.credential_id, b.credential_id));
  await inTransaction(store, async (tx) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      await tx.db
        .insertInto('credential_usage')
        .values(rows.slice(i, i + ROWS_PER_STATEMENT))
        .onConflict((oc) =>
          oc.columns(['kind', 'credential_id']).doUpdateSet({
            requests: sql`credential_usage.requests + excluded.requests`,
            last_used_at: sql`case when excluded.last_used_at > credential_usage.last_used_at
              then excluded.last_used_at else credential_usage.last_used_at end`,
          }),
        )
        .execute();
    }
  });
}

/** The usage of every credential of one kind with one of these ids (absent: never used). */
export async function credentialUsageOf(
  store: Store,
  kind: string,
  ids: readonly string[],
): Promise<Map<string, CredentialUsage>> {
  const out = new Map<string, CredentialUsage>();
  for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT) {
    const rows = await store.db
      .selectFrom('credential_usage')
      .select(['credential_id', 'requests', 'last_used_at'])
      .where('kind', '=', kind)
      .where('credential_id', 'in', ids.slice(i, i + ROWS_PER_STATEMENT))
      .execute();
    for (const r of rows) out.set(r.credential_id, { requests: Number(r.requests), last_used_at: r.last_used_at });
  }
  return out;
}

/** Forgets a credential's usage (with the credential, in the same transaction). */
export async function deleteCredentialUsage(store: Store, kind: string, id: string): Promise<void> {
  await store.db.deleteFrom('credential_usage').where('kind', '=', kind).where('credential_id', '=', id).execute();
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
