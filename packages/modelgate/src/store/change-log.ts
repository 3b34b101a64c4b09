import type { EventBus } from '../kernel/event-bus.js';
import { isTopic, type Topic } from '../kernel/topics.js';
import type { Store } from './database.js';

/**
 * Records a revoking change in the store so that every process sharing it (other replicas, and
 * a running server when the CLI changed the store directly) evicts what it cached.
 *
 * The row carries `store.origin`, and the follower of that same store skips it: the process
 * that records a change publishes it on its own bus itself (before its API call answers), and
 * hearing it again a poll later would undo work done since, such as a WebSocket opened after.
 */
export async function recordChange(store: Store, topic: Topic, subject: string): Promise<void> {
  await store.db
    .insertInto('change_log')
    .values({ topic, subject, created_at: new Date().toISOString(), origin: store.origin })
    .execute();
}

/** How long a skipped id is waited for: longer than any write transaction should take. */
const GAP_TIMEOUT_MS = 60_000;
/** At most this many skipped ids are tracked per jump (rolled-back sequences leave gaps too). */
const MAX_GAP = 1000;

/** A row this store wrote: its process already applied it when it made the change. */
export function isOwnChange(row: { origin: string }, store: Pick<Store, 'origin'>): boolean {
  return row.origin !== '' && row.origin === store.origin;
}

/**
 * Polls the change log and republishes new rows written by other processes on the bus
 * (own rows only move the cursor: see {@link recordChange}). Polling keeps it working on SQLite
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
  // PostgreSQL hands out ids before commit, so a lower id can commit after a higher one. Ids
  // skipped over are remembered and asked for again until they are older than any transaction.
  const missing = new Map<number, number>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;

  const tick = async () => {
    try {
      const now = Date.now();
      for (const [id, since] of missing) if (now - since > GAP_TIMEOUT_MS) missing.delete(id);
      const late = [...missing.keys()];
      const rows = await store.db
        .selectFrom('change_log')
        .select(['id', 'topic', 'subject', 'origin'])
        .where((eb) => (late.length > 0 ? eb.or([eb('id', '>', cursor), eb('id', 'in', late)]) : eb('id', '>', cursor)))
        .orderBy('id')
        .limit(1000)
        .execute();
      for (const row of rows) {
        const id = Number(row.id);
        if (id > cursor) {
          for (let gap = Math.max(cursor + 1, id - MAX_GAP); gap < id; gap++) missing.set(gap, now);
          cursor = id;
        } else {
          missing.delete(id);
        }
        // A topic this build does not know (a newer replica's) has no listener here.
        if (!isOwnChange(row, store) && isTopic(row.topic))
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
