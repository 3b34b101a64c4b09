import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type NodeProcess, startNodeProcess, tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';

/**
 * Issue 17, item 11: a change and its audit record commit together. Twenty deployments are
 * created at once; the node is killed with SIGKILL the moment the last one is acknowledged (no
 * batch timer, no shutdown flush gets to run); a new node on the same store must show an allowed
 * record for every acknowledged change.
 */
describe.each([
  { name: 'SQLite', store: async () => ({ args: [] as string[], drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    store: async () => {
      const db = await createScratchDatabase();
      return { args: ['--database-url', db.url], drop: () => db.drop() };
    },
  },
])('kill -9 right after acknowledged changes ($name)', ({ store }) => {
  const nodes: NodeProcess[] = [];
  let drop = async () => {};
  afterAll(async () => {
    for (const node of nodes) await node.stop('SIGKILL');
    await drop();
  });

  const keyOf = (node: NodeProcess): string =>
    JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8')).management.key as string;

  it('every acknowledged change still has its allowed record after the restart', async () => {
    const backing = await store();
    drop = backing.drop;
    const cwd = tempDir();
    const args = [...backing.args, '--data-dir', join(cwd, 'data')];
    const first = await startNodeProcess(args, { cwd });
    nodes.push(first);
    const key = keyOf(first);
    const names = Array.from({ length: 20 }, (_, i) => `crash-${i}`);
    const answers = await Promise.all(
      names.map((name) =>
        fetch(`${first.urls.management}/api/v1/deployments`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${key}`,
            'content-type': 'application/json',
            'x-request-id': `req-${name}`,
          },
          body: JSON.stringify({ name, upstream: 'http://127.0.0.1:9' }),
        }).then((res) => res.status),
      ),
    );
    first.child.kill('SIGKILL');
    expect(answers).toEqual(names.map(() => 201));
    await first.exited;

    const second = await startNodeProcess(args, { cwd });
    nodes.push(second);
    const read = async (path: string) => {
      const res = await fetch(`${second.urls.management}/api/v1${path}`, {
        headers: { authorization: `Bearer ${keyOf(second)}` },
      });
      expect(res.status).toBe(200);
      return res.json() as Promise<any>;
    };
    const deployments = (await read('/deployments?limit=100')).deployments.map((d: { name: string }) => d.name);
    expect(deployments.sort()).toEqual([...names].sort());
    const records = (await read('/audit?action=deployment.create&limit=100')).records as {
      target_name: string;
      outcome: string;
      status: number;
      request_id: string;
      actor: string;
    }[];
    expect(records.map((r) => [r.target_name, r.outcome, r.status, r.request_id, r.actor]).sort()).toEqual(
      names.map((n) => [n, 'allowed', 201, `req-${n}`, 'node:management']).sort(),
    );
  }, 120_000);
});
