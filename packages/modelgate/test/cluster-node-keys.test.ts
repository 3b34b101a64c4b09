import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testClock } from './helpers/clock.js';
import { manageAt } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { createScratchDatabase } from './helpers/postgres.js';

/**
 * Issue 20: in PostgreSQL mode the node keys are the cluster's, one set sealed in the store.
 * Replicas here run in the test process (sharing one moved clock); the three-process test is
 * cluster-replicas.test.ts.
 */
describe('the node keys of replicas sharing PostgreSQL', () => {
  const clock = testClock();
  const nodes: TestNode[] = [];
  let url: string;
  let drop: () => Promise<void>;
  const env = { MODELGATE_MASTER_KEY: randomBytes(32).toString('hex') };

  beforeAll(async () => {
    const db = await createScratchDatabase();
    url = db.url;
    drop = () => db.drop();
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await drop?.();
  });

  const start = async () => {
    const node = await startTestNode({ database_url: url, token_expiration_min: '1' }, env, { clock: clock.now });
    nodes.push(node);
    return node;
  };
  const keyFile = (node: TestNode) => JSON.parse(readFileSync(join(node.dir, 'key_file.json'), 'utf8'));
  const whoami = async (node: TestNode, key: string) =>
    (await manageAt(node.node.urls.management, key, 'GET', '/whoami')).status;
  const renew = async (node: TestNode) => {
    const res = await fetch(`${node.node.urls.management}/token?type=management`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keyFile(node).API.key}` },
    });
    return { status: res.status, key: ((await res.json()) as { key: string }).key };
  };

  it('a replica started later takes the stored keys: the same key file, not new keys', async () => {
    const one = await start();
    const two = await start();
    expect(keyFile(two)).toEqual(keyFile(one));
    expect(await whoami(two, one.keys.management)).toBe(200);
  });

  it('renewals on two replicas at once queue: both answer, and the one left in force is in every key file', async () => {
    const [one, two] = nodes as [TestNode, TestNode];
    const [a, b] = await Promise.all([renew(one), renew(two)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.key).not.toBe(b.key);
    const current = keyFile(one).management.key;
    expect(keyFile(two).management.key).toBe(current);
    expect([a.key, b.key]).toContain(current);
    const replaced = current === a.key ? b.key : a.key;
    for (const node of [one, two]) {
      expect(await whoami(node, current)).toBe(200);
      expect(await whoami(node, replaced)).toBe(401);
    }
  });

  it('keys found expired when a replica starts are renewed for the whole cluster', async () => {
    const [one] = nodes as [TestNode];
    const before = keyFile(one);
    clock.advance(2 * 60_000);
    expect(await whoami(one, before.management.key)).toBe(401);
    const three = await start();
    const after = keyFile(three);
    expect(after.management.key).not.toBe(before.management.key);
    expect(after.inference.key).not.toBe(before.inference.key);
    // The API key does not expire: kept.
    expect(after.API.key).toBe(before.API.key);
    expect(keyFile(one)).toEqual(after);
    expect(await whoami(one, after.management.key)).toBe(200);
  });

  it('single node on SQLite: every start still makes its own keys', async () => {
    const a = await startTestNode();
    const b = await startTestNode();
    nodes.push(a, b);
    expect(a.keys.management).not.toBe(b.keys.management);
    expect(await whoami(a, b.keys.management)).toBe(401);
  });
});
