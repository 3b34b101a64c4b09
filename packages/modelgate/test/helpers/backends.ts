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
