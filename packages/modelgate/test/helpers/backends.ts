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
