import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { ModelgateError } from '../kernel/errors.js';
import type { Dialect } from './dialect.js';
import { allMigrations } from './migrations/index.js';
import type { Database } from './schema.js';
import { assertOwnedRegularFile, ensurePrivateDir } from './secrets/trusted-file.js';

/** An open store: the query builder plus the few operations the node needs around it. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Where the data lives, safe to log (no password). */
  readonly location: string;
  /**
   * A random id of this open store, written with each change-log row it records, so its own
   * change-log follower skips what this process already applied (see `recordChange`).
   */
  readonly origin: string;
  /** Resolves when the database answers a trivial query; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export const SQLITE_FILE = 'modelgate.sqlite';

/**
 * Opens the store named by the config: PostgreSQL when `databaseUrl` is set, else SQLite (WAL)
 * in `dataDir`. Runs every pending migration before returning.
 *
 * @example
 * ```ts
 * const store = await openStore({ dataDir: './.modelgate', databaseUrl: '' });
 * await store.db.selectFrom('admin_keys').selectAll().execute();
 * ```
 */
export async function openStore(options: { dataDir: string; databaseUrl: string }): Promise<Store> {
  const store = options.databaseUrl ? await openPostgres(options.databaseUrl) : openSqlite(options.dataDir);
  try {
    await migrate(store);
  } catch (err) {
    await store.close().catch(() => {});
    throw new ModelgateError('STORE_UNAVAILABLE', `Cannot open the store at ${store.location}: ${describe(err)}`);
  }
  return store;
}

function openSqlite(dataDir: string): Store {
  const dir = resolve(dataDir);
  const file = join(dir, SQLITE_FILE);
  // Refused with FILE_UNSAFE (not STORE_UNAVAILABLE): a planted file is an attack, not an outage.
  ensurePrivateDir(dir);
  for (const side of ['', '-wal', '-shm']) assertOwnedRegularFile(file + side, 'SQLite database file');
  let handle: SQLite.Database;
  try {
    handle = new SQLite(file);
    // API-key and password hashes live here: owner-only, whatever the directory's mode.
    chmodSync(file, 0o600);
    handle.pragma('journal_mode = WAL');
    for (const side of ['-wal', '-shm']) if (existsSync(file + side)) chmodSync(file + side, 0o600);
    handle.pragma('busy_timeout = 5000');
    handle.pragma('foreign_keys = ON');
  } catch (err) {
    throw new ModelgateError('STORE_UNAVAILABLE', `Cannot open the store at ${file}: ${describe(err)}`);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: handle }) });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    origin: randomUUID(),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

async function openPostgres(url: string): Promise<Store> {
  // Loaded only for PostgreSQL: the embedded default never pays for the driver's memory.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 3000 });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on('error', () => {});
  // A checked-out client has no pool listener: a server-side disconnect between or during its
  // queries would be an uncaught 'error'. The query itself still rejects and is handled there.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    dialect: 'postgres',
    location: safeUrl(url),
    origin: randomUUID(),
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

async function migrate(store: Store): Promise<void> {
  const migrator = new Migrator({
    db: store.db,
    provider: { getMigrations: async () => allMigrations(store.dialect) },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/** Drops the password from a database URL so it can be logged or shown. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    // Host, port and database only: pg also reads passwords and keys from the query string.
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return '(unparsable database URL)';
  }
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  // Driver messages can quote the URL; keep only the code and a first line without credentials.
  const first = String(e.message ?? err).split('\n')[0] ?? '';
  return (e.code ? `${e.code}: ` : '') + first.replace(/\/\/[^@/\s]*@/g, '//***@');
}
