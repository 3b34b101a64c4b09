import type { EventBus } from '../events/bus.js';
import type { Store } from './database.js';

/**
 * Records a revoking change in the store so that every process sharing it (other replicas, and
 * a running server when the CLI changed the store directly) evicts what it cached.
 */
export async function recordChange(store: Store, topic: string, subject: string): Promise<void> {
  await store.db.insertInto('change_log').values({ topic, subject, created_at: new Date().toISOString() }).execute();
}

/**
 * Polls the change log and republishes new rows on the bus. Polling keeps it working on SQLite
 * and across processes with no extra service; the interval bounds how stale a cache can be.
 */
export async function followChangeLog(
  store: Store,
  bus: EventBus,
  options: { intervalMs: number; onError?: (err: unknown) => void },
): Promise<{ stop(): void }> {
  const last = await store.db
    .selectFrom('change_log')
    .select((eb) => eb.fn.max('id').as('max'))
    .executeTakeFirst();
  let cursor = Number(last?.max ?? 0);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;

  const tick = async () => {
    try {
      const rows = await store.db
        .selectFrom('change_log')
        .select(['id', 'topic', 'subject'])
        .where('id', '>', cursor)
        .orderBy('id')
        .limit(1000)
        .execute();
      for (const row of rows) {
        cursor = Number(row.id);
        await bus.publish({ topic: row.topic, subject: row.subject });
      }
      // Keep the feed short: an hour of history is plenty for any poller that is alive.
      if (++ticks % 1000 === 0) {
        const cutoff = new Date(Date.now() - 3600_000).toISOString();
        await store.db.deleteFrom('change_log').where('created_at', '<', cutoff).execute();
      }
    } catch (err) {
      options.onError?.(err);
    }
    if (!stopped) timer = setTimeout(tick, options.intervalMs).unref();
  };
  timer = setTimeout(tick, options.intervalMs).unref();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
