import { sql } from 'kysely';
import type { AuditRecord } from './audit-record.js';
import type { Store } from './database.js';
import type { AuditLogTable } from './schema.js';

/** A stored audit record, as the API returns it. */
export type StoredAuditRecord = Omit<AuditLogTable, 'id'> & { readonly id: number };

/** Filters of an audit query; every one is optional and they combine with AND. */
export interface AuditFilter {
  readonly actor?: string;
  /** Exact, or a prefix when it ends with `*` (`deployment.*`). */
  readonly action?: string;
  /** The target's name (`sentiment`, `sentiment/1.0`). */
  readonly target?: string;
  readonly targetKind?: string;
  readonly outcome?: AuditLogTable['outcome'];
  readonly listener?: AuditLogTable['listener'];
  /** ISO-8601, inclusive. */
  readonly since?: string;
  /** ISO-8601, exclusive. */
  readonly until?: string;
}

/** Where a page starts: after (asc) or before (desc) an id. */
export interface AuditPosition {
  readonly order: 'asc' | 'desc';
  readonly after?: number;
}

/** Appends records in one statement (the writer batches them). */
export async function insertAuditRecords(store: Store, records: readonly AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await store.db.insertInto('audit_log').values(records.slice()).execute();
}

/** One page of records matching the filter, in id order from the position. */
export async function queryAuditRecords(
  store: Store,
  filter: AuditFilter,
  position: AuditPosition,
  limit: number,
): Promise<StoredAuditRecord[]> {
  let query = store.db.selectFrom('audit_log').selectAll();
  if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
  if (filter.action !== undefined) {
    const prefix = filter.action.endsWith('*') ? filter.action.slice(0, -1) : undefined;
    // substr rather than LIKE: `_` in action names would be a wildcard there.
    query =
      prefix === undefined
        ? query.where('action', '=', filter.action)
        : query.where(sql`substr(action, 1, ${prefix.length})`, '=', prefix);
  }
  if (filter.target !== undefined) query = query.where('target_name', '=', filter.target);
  if (filter.targetKind !== undefined) query = query.where('target_kind', '=', filter.targetKind);
  if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
  if (filter.listener !== undefined) query = query.where('listener', '=', filter.listener);
  if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
  if (filter.until !== undefined) query = query.where('time', '<', filter.until);
  if (position.after !== undefined) query = query.where('id', position.order === 'asc' ? '>' : '<', position.after);
  const rows = await query.orderBy('id', position.order).limit(limit).execute();
  // PostgreSQL returns bigserial as a string.
  return rows.map((row) => ({ ...row, id: Number(row.id) }));
}

/** Deletes records older than `cutoff` (ISO-8601); returns how many went. */
export async function deleteAuditBefore(store: Store, cutoff: string): Promise<number> {
  const result = await store.db.deleteFrom('audit_log').where('time', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** A stored record with a name for its actor, where one exists. */
export type NamedAuditRecord = StoredAuditRecord & { readonly actor_name: string | null };

/**
 * Adds `actor_name` beside each record's actor id, read now: a user's username, an API token's
 * `name (owner)`, an admin key's description. Null for keys without a name (`node:management`),
 * and for a user or token deleted since (the id stays the record's truth).
 */
export async function withActorNames(store: Store, records: readonly StoredAuditRecord[]): Promise<NamedAuditRecord[]> {
  const ids = (kind: string) => [...new Set(records.filter((r) => r.actor_kind === kind).map((r) => r.actor))];
  const names = new Map<string, string>();
  const users = ids('user');
  if (users.length > 0) {
    const rows = await store.db.selectFrom('users').select(['id', 'username']).where('id', 'in', users).execute();
    for (const row of rows) names.set(`user:${row.id}`, row.username);
  }
  const tokens = ids('api_token');
  if (tokens.length > 0) {
    const rows = await store.db
      .selectFrom('api_tokens')
      .innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.id as id', 'api_tokens.name as name', 'users.username as owner'])
      .where('api_tokens.id', 'in', tokens)
      .execute();
    for (const row of rows) names.set(`api_token:${row.id}`, `${row.name} (${row.owner})`);
  }
  const adminKeys = ids('admin_key');
  if (adminKeys.length > 0) {
    const rows = await store.db
      .selectFrom('admin_keys')
      .select(['id', 'description'])
      .where('id', 'in', adminKeys)
      .execute();
    for (const row of rows) if (row.description) names.set(`admin_key:${row.id}`, row.description);
  }
  return records.map((r) => ({ ...r, actor_name: names.get(`${r.actor_kind}:${r.actor}`) ?? null }));
}
