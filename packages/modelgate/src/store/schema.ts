import type { Generated } from 'kysely';

/**
 * Table types for kysely. Timestamps are ISO-8601 UTC text and booleans are 0/1 integers, so
 * one set of migrations and queries serves SQLite and PostgreSQL alike.
 */
export interface Database {
  admin_keys: AdminKeysTable;
  change_log: ChangeLogTable;
}

export interface AdminKeysTable {
  id: string;
  /** The first characters of the key, safe to show (`mga_AbC1`). */
  prefix: string;
  /** SHA-256 hex of the whole key. */
  hash: string;
  description: string;
  created_at: string;
  last_used_at: string | null;
}

/** An append-only feed of revoking changes, polled by every process (CLI writes included). */
export interface ChangeLogTable {
  id: Generated<number>;
  topic: string;
  subject: string;
  created_at: string;
}
