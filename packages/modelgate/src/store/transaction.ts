import { AsyncLocalStorage } from 'node:async_hooks';
import { type Kysely, sql } from 'kysely';
import { ModelgateError } from '../kernel/errors.js';
import type { Store } from './database.js';
import type { Database } from './schema.js';

/** Stores bound to an open transaction, so a nested call joins it instead of nesting. */
const open = new WeakSet<Store>();

/** How often a transaction the database chose as a deadlock or serialization victim is re-run. */
const RETRIES = 3;

/**
 * Runs `work` as one transaction: everything it writes through the store it is given commits
 * together or not at all. A call made with a store that is already in a transaction joins it.
 *
 * - SQLite starts with `BEGIN IMMEDIATE`, so writers queue on the lock (busy_timeout) instead of
 *   failing when a read-then-write transaction finds the database changed under it.
 * - PostgreSQL runs at READ COMMITTED; callers lock the rows they read-modify-write with
 *   {@link lockForUpdate}. A deadlock or serialization victim is re-run a few times, so `work`
 *   must have no effect outside the database (defer events until this resolves).
 * - A unique or foreign-key violation becomes a 409 (`RESOURCE_CONFLICT`, `WRITE_CONFLICT`):
 *   a lost race is the caller's conflict, not a server error.
 *
 * Inside `work`, use only the given store: on SQLite the outer one waits for this transaction's
 * connection, and on PostgreSQL it would not see this transaction's rows.
 *
 * @example
 * ```ts
 * await inTransaction(store, async (tx) => {
 *   await tx.db.insertInto('services').values(service).execute();
 *   await tx.db.insertInto('service_versions').values(version).execute();
 * });
 * ```
 */
export async function inTransaction<T>(store: Store, work: (tx: Store) => Promise<T>): Promise<T> {
  if (open.has(store)) return work(store);
  for (let attempt = 1; ; attempt++) {
    try {
      return await runOnce(store, work);
    } catch (err) {
      const kind = classifyStoreError(err);
      if (kind === 'retry' && attempt < RETRIES) continue;
      throw toConflict(err, kind) ?? err;
    }
  }
}

/** Whether this store is bound to an open transaction (see {@link inTransaction}). */
export function isInTransaction(store: Store): boolean {
  return open.has(store);
}

/**
 * Rows that must commit with the first transaction of a piece of work (a management request's
 * audit record with the change it records), or not at all.
 */
export interface CommitRider {
  /** True while it still has to ride: not yet committed and not being written by another transaction. */
  claim(): boolean;
  /** Writes its rows into the transaction, just before the commit. */
  write(tx: Store): Promise<void>;
  /** After the commit: it is stored. */
  committed(): void;
  /** After a rollback: the next transaction takes it. */
  release(): void;
}

const riders = new AsyncLocalStorage<CommitRider>();

/**
 * Runs `fn` so that the first transaction it (or anything it awaits) commits also writes
 * `rider`'s rows, before that commit. Transactions joined by a nested call are not separate.
 *
 * @example
 * ```ts
 * withCommitRider(auditIntent, () => handler(req, reply));
 * ```
 */
export function withCommitRider<T>(rider: CommitRider, fn: () => T): T {
  return riders.run(rider, fn);
}

async function runOnce<T>(store: Store, work: (tx: Store) => Promise<T>): Promise<T> {
  const rider = riders.getStore();
  const riding = rider?.claim() === true;
  const withRider = async (tx: Store): Promise<T> => {
    const result = await work(tx);
    if (riding) await rider?.write(tx);
    return result;
  };
  try {
    const result = await runOnceBare(store, withRider);
    if (riding) rider?.committed();
    return result;
  } catch (err) {
    if (riding) rider?.release();
    throw err;
  }
}

async function runOnceBare<T>(store: Store, work: (tx: Store) => Promise<T>): Promise<T> {
  if (store.dialect === 'postgres') {
    return store.db.transaction().execute((trx) => work(bind(store, trx)));
  }
  // kysely's SQLite transactions begin DEFERRED; one connection lets us say IMMEDIATE.
  return store.db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await work(bind(store, conn));
      await sql`commit`.execute(conn);
      return result;
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => {});
      throw err;
    }
  });
}

function bind(store: Store, db: Kysely<Database>): Store {
  const tx: Store = { ...store, db };
  open.add(tx);
  return tx;
}

/**
 * Inside {@link inTransaction} on PostgreSQL, adds `FOR UPDATE`, so concurrent read-modify-writes
 * of one row queue until commit. Elsewhere the query is unchanged: SQLite transactions already
 * hold its single write lock, and outside a transaction a lock would end with the statement.
 */
export function lockForUpdate<Q extends { forUpdate(): Q }>(store: Store, query: Q): Q {
  return store.dialect === 'postgres' && open.has(store) ? query.forUpdate() : query;
}

/**
 * Inside {@link inTransaction} on PostgreSQL, makes the transaction's writes of `table` wait for
 * every other transaction writing it (a `SHARE ROW EXCLUSIVE` lock, held until commit; readers
 * are not blocked). For a read-modify-write over a set of rows that a concurrent writer may add
 * to, which {@link lockForUpdate} cannot cover: at READ COMMITTED each later statement then sees
 * what the previous writer committed. SQLite transactions already hold its single write lock.
 *
 * @example
 * ```ts
 * await inTransaction(store, async (tx) => {
 *   await serializeWriters(tx, 'signing_keys');
 *   await tx.db.updateTable('signing_keys').set({ retired_at: now }).where('retired_at', 'is', null).execute();
 * });
 * ```
 */
export async function serializeWriters(store: Store, table: keyof Database & string): Promise<void> {
  if (store.dialect !== 'postgres' || !open.has(store)) return;
  await sql`lock table ${sql.table(table)} in share row exclusive mode`.execute(store.db);
}

/** What a driver error means for a transaction, on either dialect; undefined for anything else. */
export type StoreErrorKind = 'unique' | 'foreign_key' | 'retry' | 'busy';

/**
 * Classifies a PostgreSQL (SQLSTATE) or better-sqlite3 (`SQLITE_*`) error.
 *
 * @example
 * ```ts
 * classifyStoreError({ code: '23505' }); // 'unique'
 * classifyStoreError({ code: 'SQLITE_CONSTRAINT_UNIQUE' }); // 'unique'
 * ```
 */
export function classifyStoreError(err: unknown): StoreErrorKind | undefined {
  if (err instanceof ModelgateError) return undefined; // already decided, and its codes are ours
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  switch (code) {
    case '23505':
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return 'unique';
    case '23503':
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreign_key';
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
      return 'retry';
    default:
      return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') ? 'busy' : undefined;
  }
}

/**
 * The 409 a lost race deserves, or undefined when the error is not a race. The message names
 * the kind of row (from the table name) but never the values: a unique column can hold a hash.
 */
export function toConflict(err: unknown, kind = classifyStoreError(err)): ModelgateError | undefined {
  if (kind === 'unique') {
    const what = rowNoun(conflictTable(err));
    return new ModelgateError(
      'RESOURCE_CONFLICT',
      `A ${what} with the same name already exists (a concurrent request may have created it)`,
    );
  }
  if (kind === 'foreign_key' || kind === 'retry' || kind === 'busy') {
    return new ModelgateError('WRITE_CONFLICT');
  }
  return undefined;
}

/** The table a constraint error names: `err.table` on PostgreSQL, the message on SQLite. */
function conflictTable(err: unknown): string | undefined {
  const e = err as { table?: unknown; message?: unknown };
  if (typeof e.table === 'string') return e.table;
  const match = /constraint failed: (\w+)\./.exec(String(e.message ?? ''));
  return match?.[1];
}

/** `service_versions` → `service version`; unknown → `resource`. */
export function rowNoun(table: string | undefined): string {
  if (!table || !/^[a-z_]+$/.test(table)) return 'resource';
  return table.replace(/_/g, ' ').replace(/s$/, '');
}

/**
 * Get-or-create for a row that concurrent requests may all be creating. `insert` must be an
 * `INSERT ... ON CONFLICT DO NOTHING RETURNING` (on PostgreSQL it waits for a concurrent
 * creator to commit, then does nothing); then the winner's row is read.
 * @returns the row, and whether this call created it.
 */
export async function insertOrFind<R>(
  row: R,
  insert: (row: R) => Promise<unknown>,
  find: () => Promise<R | undefined>,
): Promise<{ row: R; created: boolean }> {
  if (await insert(row)) return { row, created: true };
  const found = await find();
  // Deleted again between the two statements by a concurrent request.
  if (!found) throw new ModelgateError('WRITE_CONFLICT');
  return { row: found, created: false };
}
