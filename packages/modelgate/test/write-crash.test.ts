import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, startNodeProcess, tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';

/**
 * Issue 7, defect class 4: kill -9 in the middle of a deploy leaves nothing half made. The test
 * holds a lock that stops the deploy at its `deployments` insert, after it has written its new
 * infrastructure, service, version and secret; waits until PostgreSQL shows it waiting there;
 * kills the node; and then finds none of those rows.
 */
describe('kill -9 in the middle of a deploy (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let node: NodeProcess;
  let admin: pg.Client;
  /** Holds the lock; a separate client, since activity views are frozen within a transaction. */
  let locker: pg.Client;
  beforeAll(async () => {
    db = await createScratchDatabase();
    const cwd = tempDir();
    node = await startNodeProcess(['--database-url', db.url, '--data-dir', join(cwd, 'data')], { cwd });
    admin = new pg.Client({ connectionString: db.url });
    locker = new pg.Client({ connectionString: db.url });
    await Promise.all([admin.connect(), locker.connect()]);
  });
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await Promise.all([admin?.end(), locker?.end()]);
    await db?.drop();
  });

  async function until(query: string, params: unknown[], ok: (rows: unknown[]) => boolean): Promise<void> {
    const start = Date.now();
    while (!ok((await admin.query(query, params)).rows)) {
      if (Date.now() - start > 20_000) throw new Error(`never true: ${query}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('a node killed while its deploy waits on the last insert leaves no infrastructure, service, version or secret', async () => {
    const keys = JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8'));
    // SHARE lets the deploy read and lock rows but not insert a deployment.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE deployments IN SHARE MODE');
    const deploy = fetch(`${node.urls.management}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.management.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'halfway',
        upstream: 'http://127.0.0.1:9',
        infrastructure: 'halfway-infra',
        service: 'halfway-svc',
        auth: { basic_secret: 'halfway-pw' },
      }),
    }).catch((err: unknown) => err);
    await until(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
         AND query ILIKE 'insert into "deployments"%'`,
      [],
      (rows) => rows.length === 1,
    );
    await node.stop('SIGKILL');
    expect(await deploy).toBeInstanceOf(Error); // the caller never got an answer
    await locker.query('COMMIT');
    // The killed node's backends notice their client is gone; the waiting one rolls back.
    await until(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), $1)`,
      [(locker as unknown as { processID: number }).processID],
      (rows) => rows.length === 0,
    );
    const count = async (table: string, column: string, value: string) =>
      Number((await admin.query(`SELECT count(*) AS n FROM ${table} WHERE ${column} = $1`, [value])).rows[0].n);
    expect({
      infrastructure: await count('infrastructures', 'name', 'halfway-infra'),
      service: await count('services', 'name', 'halfway-svc'),
      secret: await count('secrets', 'name', 'halfway-pw'),
      deployment: await count('deployments', 'name', 'halfway'),
      changes: await count('change_log', 'subject', 'halfway'),
    }).toEqual({ infrastructure: 0, service: 0, secret: 0, deployment: 0, changes: 0 });
    expect(Number((await admin.query('SELECT count(*) AS n FROM service_versions')).rows[0].n)).toBe(0);
  });
});
