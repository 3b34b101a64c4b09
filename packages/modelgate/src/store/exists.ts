import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { SQLITE_FILE } from './database.js';

/**
 * Whether the store the config names was made before (by `modelgate start` or `--init`): the
 * SQLite file in the data dir, or kysely's migration table in the PostgreSQL database. Commands
 * that work on the store directly check this, so a typo in `--data-dir` or a wrong working
 * directory does not silently create a new, empty store. An unreachable database answers true:
 * opening it then reports the real problem.
 */
export async function storeExists(options: { dataDir: string; databaseUrl: string }): Promise<boolean> {
  if (!options.databaseUrl) return existsSync(join(resolve(options.dataDir), SQLITE_FILE));
  const client = new pg.Client({ connectionString: options.databaseUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const result = await client.query<{ found: boolean }>(
      "select to_regclass('kysely_migration') is not null as found",
    );
    return result.rows[0]?.found === true;
  } catch {
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}
