import { sql } from 'kysely';
import type pg from 'pg';
import type { Store } from './database.js';

/**
 * The replicas table of a PostgreSQL cluster: registration, heartbeat, the live set, and the
 * notification connection each replica listens on. PostgreSQL only (a SQLite store is one node).
 */

/** The channel replicas acknowledge applied changes on: `{ "replica": id, "ids": [...] }`. */
export const ACK_CHANNEL = 'modelgate_ack';

/** The database's clock in epoch ms: one clock for every replica's heartbeat. */
const DB_NOW_MS = sql<string>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** A replica as a writer waits for it. */
export interface ReplicaRef {
  readonly id: string;
  readonly name: string;
}

/** Registers (or re-registers) a replica as live. */
export async function registerReplica(store: Store, replica: ReplicaRef): Promise<void> {
  await store.db
    .insertInto('replicas')
    .values({
      id: replica.id,
      name: replica.name,
      started_at: new Date().toISOString(),
      heartbeat_ms: DB_NOW_MS,
      dropped_at: null,
    })
    .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_ms: DB_NOW_MS, dropped_at: null }))
    .execute();
}

/**
 * Writes a heartbeat.
 * @returns `live`, `dropped` (a writer dropped it: it must catch up and rejoin), or `missing`
 * (its row is gone: it must register again).
 */
export async function heartbeat(store: Store, id: string): Promise<'live' | 'dropped' | 'missing'> {
  const row = await store.db
    .updateTable('replicas')
    .set({ heartbeat_ms: DB_NOW_MS })
    .where('id', '=', id)
    .returning('dropped_at')
    .executeTakeFirst();
  if (!row) return 'missing';
  return row.dropped_at === null ? 'live' : 'dropped';
}

/** The other replicas that are live: not dropped, with a heartbeat within `windowMs`. */
export async function liveReplicas(store: Store, self: string, windowMs: number): Promise<ReplicaRef[]> {
  return store.db
    .selectFrom('replicas')
    .select(['id', 'name'])
    .where('dropped_at', 'is', null)
    .where('id', '<>', self)
    .where(sql<boolean>`heartbeat_ms > ${DB_NOW_MS} - ${windowMs}`)
    .execute();
}

/** Drops replicas from the live set: writers stop waiting for them until they rejoin. */
export async function dropReplicas(store: Store, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await store.db.updateTable('replicas').set({ dropped_at: new Date().toISOString() }).where('id', 'in', ids).execute();
}

/** Removes a replica (it stops), and rows whose heartbeat is older than an hour. */
export async function forgetReplica(store: Store, id: string): Promise<void> {
  await store.db
    .deleteFrom('replicas')
    .where((eb) => eb.or([eb('id', '=', id), sql<boolean>`heartbeat_ms < ${DB_NOW_MS} - 3600000`]))
    .execute();
}

/** Tells the writers that this replica applied these changes (NOTIFY on {@link ACK_CHANNEL}). */
export async function acknowledge(store: Store, id: string, ids: readonly number[]): Promise<void> {
  // Well under NOTIFY's 8000-byte payload per message.
  for (let i = 0; i < ids.length; i += 200) {
    const payload = JSON.stringify({ replica: id, ids: ids.slice(i, i + 200) });
    await sql`select pg_notify(${ACK_CHANNEL}, ${payload})`.execute(store.db);
  }
}

/** An acknowledgement received; undefined when the payload is not one. */
export function parseAck(payload: string | undefined): { replica: string; ids: number[] } | undefined {
  try {
    const ack = JSON.parse(payload ?? '') as { replica?: unknown; ids?: unknown } | null;
    if (ack && typeof ack.replica === 'string' && Array.isArray(ack.ids) && ack.ids.every(Number.isSafeInteger)) {
      return { replica: ack.replica, ids: ack.ids as number[] };
    }
  } catch {
    // Not ours.
  }
  return undefined;
}

/** A dedicated connection LISTENing on some channels. */
export interface NotificationListener {
  /** A trivial query on this connection: rejects when it is gone or hung. */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens a connection of its own (a pooled one cannot hold a LISTEN) and listens on `channels`.
 * `onLost` is called once, when the connection fails or ends; open a new listener then.
 * `applicationName` shows in `pg_stat_activity`, so an operator (or a test) can find it.
 */
export async function listenForNotifications(options: {
  readonly url: string;
  readonly channels: readonly string[];
  readonly applicationName: string;
  onNotification(channel: string, payload: string | undefined): void;
  onLost(err: unknown): void;
}): Promise<NotificationListener> {
  const { default: driver } = await import('pg');
  const client: pg.Client = new driver.Client({
    connectionString: options.url,
    application_name: options.applicationName,
    keepAlive: true,
    connectionTimeoutMillis: 3000,
  });
  let lost = false;
  const lose = (err: unknown) => {
    if (lost) return;
    lost = true;
    client.end().catch(() => {});
    options.onLost(err);
  };
  client.on('error', lose);
  client.on('end', () => lose(new Error('connection ended')));
  client.on('notification', (msg) => options.onNotification(msg.channel, msg.payload));
  try {
    await client.connect();
    for (const channel of options.channels) await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  } catch (err) {
    lost = true;
    await client.end().catch(() => {});
    throw err;
  }
  return {
    async ping(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.query('select 1'),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('notification connection did not answer')), timeoutMs);
          }),
        ]);
      } catch (err) {
        lose(err);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      lost = true;
      await client.end().catch(() => {});
    },
  };
}
