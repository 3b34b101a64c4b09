import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type ChangeEvent, createLocalBus } from '../src/kernel/event-bus.js';
import { TOPICS } from '../src/kernel/topics.js';
import { followChangeLog, isOwnChange, recordChange } from '../src/store/change-log.js';
import { openStore, type Store } from '../src/store/database.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { tempDir } from './helpers/node-process.js';
import { createScratchDatabase } from './helpers/postgres.js';
import { type TestUpstream, websocketUpstream } from './helpers/upstreams.js';

/**
 * Issue 7, defect class 5: a process must not replay its own changes from the change log. It
 * applied them when it made them; applying them again a poll later cut a WebSocket opened after
 * the change had returned. Changes made by ANY other process (a replica, the CLI writing the
 * store directly) must still be applied.
 */

async function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

async function echo(socket: WebSocket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.once('message', (data) => resolve(data.toString()));
    socket.once('close', () => reject(new Error('closed')));
    socket.send(text);
  });
}

interface Setup {
  readonly label: string;
  start(): Promise<{
    node: TestNode;
    /** Redeploys (or announces a change of) a deployment from another process than `node`. */
    changeElsewhere(name: string): Promise<void>;
    stop(): Promise<void>;
  }>;
}

/**
 * A node, and beside it another Store on the same database that records changes directly, as
 * the CLI does. `database` is a PostgreSQL URL, or '' for SQLite in the node's data dir.
 */
function withDirectWriter(label: string, database: () => Promise<{ url: string; drop(): Promise<void> }>): Setup {
  return {
    label,
    async start() {
      const db = await database();
      const node = await startTestNode(db.url ? { database_url: db.url } : {});
      const other = await openStore({ dataDir: node.node.config.data_dir, databaseUrl: db.url });
      return {
        node,
        changeElsewhere: async (name) => {
          await recordChange(other, TOPICS.deploymentChanged, name);
        },
        async stop() {
          await other.close();
          await node.close();
          await db.drop();
        },
      };
    },
  };
}

const setups: Setup[] = [
  {
    label: 'PostgreSQL, a second node redeploys through its API',
    async start() {
      const db = await createScratchDatabase();
      const data = join(tempDir(), 'data');
      const node = await startTestNode({ database_url: db.url, data_dir: data });
      const replica = await startTestNode({ database_url: db.url, data_dir: data });
      return {
        node,
        async changeElsewhere(name) {
          expect((await manage(replica, 'POST', `/deployments/${name}/redeploy`)).status).toBe(200);
        },
        async stop() {
          await Promise.all([node.close(), replica.close()]);
          await db.drop();
        },
      };
    },
  },
  withDirectWriter('PostgreSQL, another store writes the change log (as the CLI does)', createScratchDatabase),
  withDirectWriter('SQLite, another store writes the change log (as the CLI does)', async () => ({
    url: '',
    drop: async () => {},
  })),
];

describe.each(setups)('own changes are not replayed ($label)', (setup) => {
  let env: Awaited<ReturnType<Setup['start']>>;
  let upstream: TestUpstream;
  beforeAll(async () => {
    env = await setup.start();
    upstream = await websocketUpstream();
  });
  afterAll(async () => {
    await env?.stop();
    await upstream?.close();
  });

  it('a WebSocket opened after a change returned survives the next polls; a change from elsewhere still cuts', async () => {
    const t = env.node;
    const ws = t.node.urls.inference.replace('http', 'ws');
    for (const name of ['mine', 'theirs']) {
      const made = await manage(t, 'POST', '/deployments', { name, upstream: upstream.url, access: 'public' });
      expect(made.status).toBe(201);
    }
    // This node's own change, answered: from here on the route is in force.
    expect((await manage(t, 'POST', '/deployments/mine/redeploy')).status).toBe(200);
    const mine = await openSocket(`${ws}/mine/socket`);
    const theirs = await openSocket(`${ws}/theirs/socket`);
    expect(await echo(mine, 'before')).toBe('echo:before');
    const theirsClosed = new Promise<void>((resolve) => theirs.once('close', () => resolve()));

    // A change from another process is recorded AFTER this node's own rows, so once this node
    // has applied it (the socket on that deployment is cut) its poll has passed its own rows.
    await env.changeElsewhere('theirs');
    await theirsClosed;

    expect(mine.readyState).toBe(WebSocket.OPEN);
    expect(await echo(mine, 'after')).toBe('echo:after');
    mine.close();
  });
});

describe('change-log follower (unit, SQLite)', () => {
  let a: Store;
  let b: Store;
  beforeAll(async () => {
    const dataDir = join(tempDir(), 'data');
    a = await openStore({ dataDir, databaseUrl: '' });
    b = await openStore({ dataDir, databaseUrl: '' });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('skips the rows its own store wrote and publishes every other row, in order', async () => {
    const bus = createLocalBus();
    const seen: ChangeEvent[] = [];
    bus.subscribe((e) => {
      seen.push(e);
    });
    const feed = await followChangeLog(a, bus, { intervalMs: 20 });
    await recordChange(a, TOPICS.deploymentChanged, 'own-1');
    await recordChange(b, TOPICS.deploymentChanged, 'other-1');
    // A writer that does not say who it is (older versions, a hand-made row) reaches everyone.
    await a.db
      .insertInto('change_log')
      .values({ topic: TOPICS.apiKeyDeleted, subject: 'anonymous', created_at: new Date().toISOString() })
      .execute();
    await recordChange(a, TOPICS.deploymentChanged, 'own-2');
    await recordChange(b, TOPICS.apiKeyDeleted, 'other-2');
    // The last row comes from elsewhere: once it is heard, every row before it has been polled.
    await recordChange(b, TOPICS.deploymentChanged, 'fence');
    const start = Date.now();
    while (!seen.some((e) => e.subject === 'fence')) {
      if (Date.now() - start > 5000) throw new Error('the fence row was never delivered');
      await new Promise((r) => setTimeout(r, 20));
    }
    feed.stop();
    expect(seen.map((e) => e.subject)).toEqual(['other-1', 'anonymous', 'other-2', 'fence']);
  });

  it('each open store has its own origin', () => {
    expect(a.origin).not.toBe(b.origin);
    expect(isOwnChange({ origin: a.origin }, a)).toBe(true);
    expect(isOwnChange({ origin: b.origin }, a)).toBe(false);
    expect(isOwnChange({ origin: '' }, { origin: '' })).toBe(false);
  });
});
