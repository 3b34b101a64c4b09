import { sql } from 'kysely';
import type { EventBus } from '../kernel/event-bus.js';
import { isTopic, type Topic } from '../kernel/topics.js';
import type { Store } from './database.js';

/** The PostgreSQL channel every recorded change is announced on (per database). */
export const CHANGE_CHANNEL = 'modelgate_change';

/** A change-log row as the follower applies it. */
export interface ChangeRow {
  readonly id: number;
  readonly topic: string;
  readonly subject: string;
  readonly origin: string;
}

/**
 * Records a revoking change in the store so that every process sharing it (other replicas, and
 * a running server when the CLI changed the store directly) evicts what it cached.
 *
 * The row carries `store.origin`, and the follower of that same store skips it: the process
 * that records a change publishes it on its own bus itself (before its API call answers), and
 * hearing it again a poll later would undo work done since, such as a WebSocket opened after.
 *
 * On PostgreSQL the row is also announced with `NOTIFY` on {@link CHANGE_CHANNEL}; PostgreSQL
 * delivers it when the transaction commits (never for a rolled-back one), so replicas listening
 * apply it at once instead of at their next poll.
 *
 * @returns the row's id (the change's `seq`).
 */
export async function recordChange(store: Store, topic: Topic, subject: string): Promise<number> {
  const inserted = await store.db
    .insertInto('change_log')
    .values({ topic, subject, created_at: new Date().toISOString(), origin: store.origin })
    .returning('id')
    .executeTakeFirstOrThrow();
  const id = Number(inserted.id);
  if (store.dialect === 'postgres') {
    const payload = JSON.stringify({ id, topic, subject, origin: store.origin } satisfies ChangeRow);
    await sql`select pg_notify(${CHANGE_CHANNEL}, ${payload})`.execute(store.db);
  }
  return id;
}

/** The row a {@link CHANGE_CHANNEL} notification carries; undefined when it is not one. */
export function parseChangeNotification(payload: string | undefined): ChangeRow | undefined {
  try {
    const row = JSON.parse(payload ?? '') as Partial<ChangeRow> | null;
    if (
      row &&
      Number.isSafeInteger(row.id) &&
      typeof row.topic === 'string' &&
      typeof row.subject === 'string' &&
      typeof row.origin === 'string'
    ) {
      return { id: row.id as number, topic: row.topic, subject: row.subject, origin: row.origin };
    }
  } catch {
    // Not ours: nothing to apply.
  }
  return undefined;
}

/** How long a skipped id is waited for: longer than any write transaction should take. */
const GAP_TIMEOUT_MS = 60_000;
/** At most this many skipped ids are tracked per jump (rolled-back sequences leave gaps too). */
const MAX_GAP = 1000;
/** Ids remembered as applied, so a change heard twice (notification and poll) is applied once. */
const REMEMBERED = 10_000;

/** A row this store wrote: its process already applied it when it made the change. */
export function isOwnChange(row: { origin: string }, store: Pick<Store, 'origin'>): boolean {
  return row.origin !== '' && row.origin === store.origin;
}

/** The change log, followed: by its own polling, and by whatever notifications are handed to it. */
export interface ChangeFollower {
  /**
   * Applies a change heard of by notification, once however often it is heard (a later poll
   * skips it); resolves once every listener settled.
   */
  deliver(row: ChangeRow): Promise<void>;
  /** Reads the log now (after any read in progress) and applies what it finds; rejects if the read fails. */
  catchUp(): Promise<void>;
  stop(): void;
}

/**
 * Polls the change log and republishes new rows written by other processes on the bus
 * (own rows only move the cursor: see {@link recordChange}). Polling keeps it working on SQLite
 * and across processes with no extra service, and is the catch-up path after a lost
 * notification; the interval bounds how stale a cache can be without notifications.
 */
export async function followChangeLog(
  store: Store,
  bus: EventBus,
  options: {
    intervalMs: number;
    onError?: (err: unknown) => void;
    /** Told the ids of other processes' rows once applied (for a cluster's acknowledgements). */
    onApplied?: (ids: readonly number[]) => void;
  },
): Promise<ChangeFollower> {
  const last = await store.db
    .selectFrom('change_log')
    .select((eb) => eb.fn.max('id').as('max'))
    .executeTakeFirst();
  let cursor = Number(last?.max ?? 0);
  // PostgreSQL hands out ids before commit, so a lower id can commit after a higher one. Ids
  // skipped over are remembered and asked for again until they are older than any transaction.
  const missing = new Map<number, number>();
  const applied = new Map<number, Promise<void>>();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;
  let reading: Promise<void> = Promise.resolve();

  /** Applies a row once; `fresh` collects the ids this call applied first (other processes' rows). */
  const apply = (row: ChangeRow, fresh: number[]): Promise<void> => {
    const known = applied.get(row.id);
    if (known) return known;
    // A topic this build does not know (a newer replica's) has no listener here.
    const foreign = !isOwnChange(row, store);
    const done =
      foreign && isTopic(row.topic) ? bus.publish({ topic: row.topic, subject: row.subject }) : Promise.resolve();
    applied.set(row.id, done);
    if (applied.size > REMEMBERED) applied.delete(applied.keys().next().value as number);
    if (foreign) fresh.push(row.id);
    return done;
  };
  const report = (ids: number[]) => {
    if (ids.length > 0) options.onApplied?.(ids);
  };

  const read = async (): Promise<void> => {
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
    const fresh: number[] = [];
    for (const row of rows) {
      const id = Number(row.id);
      if (id > cursor) {
        for (let gap = Math.max(cursor + 1, id - MAX_GAP); gap < id; gap++)
          if (!applied.has(gap)) missing.set(gap, now);
        cursor = id;
      } else {
        missing.delete(id);
      }
      await apply({ ...row, id }, fresh);
    }
    report(fresh);
    // Keep the feed short: an hour of history is plenty for any poller that is alive.
    if (++ticks % 1000 === 0) {
      const cutoff = new Date(Date.now() - 3600_000).toISOString();
      await store.db.deleteFrom('change_log').where('created_at', '<', cutoff).execute();
    }
  };
  /** One read at a time: a catch-up asked for during a read runs after it. */
  const queueRead = (): Promise<void> => {
    const next = reading.then(read);
    reading = next.catch(() => {});
    return next;
  };

  const tick = async () => {
    try {
      await queueRead();
    } catch (err) {
      options.onError?.(err);
    }
    if (!stopped) timer = setTimeout(tick, options.intervalMs).unref();
  };
  timer = setTimeout(tick, options.intervalMs).unref();
  return {
    async deliver(row) {
      if (stopped) return;
      const fresh: number[] = [];
      // A notified row may fill a gap the poll is still waiting for.
      missing.delete(row.id);
      await apply(row, fresh);
      report(fresh);
    },
    catchUp: queueRead,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
