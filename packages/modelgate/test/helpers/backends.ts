import { afterAll, beforeAll } from 'vitest';
import type { ConfigKey } from '../../src/config/schema.js';
import { startTestNode, type TestNode } from './in-process-node.js';
import { createScratchDatabase } from './postgres.js';

/**
 * The two stores, as `startTestNode` overrides: embedded SQLite (the default) and a scratch
 * PostgreSQL database dropped afterwards. For `describe.each(STORE_BACKENDS)`.
 */
export const STORE_BACKENDS = [
  { name: 'SQLite', setup: async () => ({ overrides: {} as Record<string, string>, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    setup: async () => {
      const db = await createScratchDatabase();
      return { overrides: { database_url: db.url } as Record<string, string>, drop: () => db.drop() };
    },
  },
];

/** The store for a dialect by name, for suites that loop over `'sqlite' | 'postgres'`. */
export function storeFor(dialect: 'sqlite' | 'postgres'): Promise<{
  overrides: Record<string, string>;
  drop: () => Promise<void>;
}> {
  return (dialect === 'postgres' ? STORE_BACKENDS[1]! : STORE_BACKENDS[0]!).setup();
}

/**
 * A node on one of {@link STORE_BACKENDS} for the enclosing `describe`: started in `beforeAll`,
 * closed (and its scratch database dropped) in `afterAll`. Read it through the returned getter.
 *
 * @example
 * ```ts
 * describe.each(STORE_BACKENDS)('on $name', (backend) => {
 *   const node = nodeOn(backend, { failure_limit: '2' });
 *   it('...', async () => { await manage(node(), 'GET', '/deployments'); });
 * });
 * ```
 */
export function nodeOn(
  backend: (typeof STORE_BACKENDS)[number],
  overrides: Partial<Record<ConfigKey, string>> = {},
): () => TestNode {
  let t: TestNode | undefined;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const store = await backend.setup();
    drop = store.drop;
    t = await startTestNode({ ...store.overrides, ...overrides });
  });
  afterAll(async () => {
    await t?.close();
    await drop();
  });
  return () => {
    if (!t) throw new Error('the node is started in beforeAll');
    return t;
  };
}
