import { hostname } from 'node:os';
import type { ClusterGate } from '../../http/health.js';
import type { Logger } from '../../log/logger.js';
import { CHANGE_CHANNEL, type ChangeFollower, parseChangeNotification } from '../../store/change-log.js';
import type { Store } from '../../store/database.js';
import {
  ACK_CHANNEL,
  acknowledge,
  dropReplicas,
  forgetReplica,
  heartbeat,
  listenForNotifications,
  liveReplicas,
  type NotificationListener,
  parseAck,
  type ReplicaRef,
  registerReplica,
} from '../../store/replicas.js';

/** How often a replica writes its heartbeat and checks its notification connection. */
export const HEARTBEAT_MS = 1000;
/** First wait before reconnecting a lost notification connection; doubled up to the cap. */
const RECONNECT_MS = 500;
const RECONNECT_MAX_MS = 5000;
/** Changes whose acknowledgements are remembered (most of them are other writers' changes). */
const KEPT_ACKS = 10_000;

/** Why a replica may be behind; each must be cleared, then a catch-up read done, to serve again. */
type Trouble = 'feed' | 'heartbeat' | 'dropped';

const TROUBLE_TEXT: Readonly<Record<Trouble, string>> = {
  feed: 'its change-feed connection to PostgreSQL is lost',
  heartbeat: 'it cannot write its heartbeat',
  dropped: 'a writer dropped it from the live set (it did not acknowledge a change in time)',
};

export interface ReplicaSetOptions {
  readonly store: Store;
  readonly databaseUrl: string;
  readonly follower: ChangeFollower;
  readonly log: Logger;
  /** `cluster_ack_timeout_ms`. */
  readonly ackTimeoutMs: number;
  /** `cluster_grace_ms`. */
  readonly graceMs: number;
  /**
   * Told the replicas whose acknowledgement of change `seq` was not heard in time, and whether
   * they were dropped (not when this replica's own feed was down: it could not hear them).
   */
  readonly onUnacknowledged?: (late: readonly ReplicaRef[], seq: number, dropped: boolean) => void;
}

/**
 * This process as one replica of a PostgreSQL cluster (issue 20):
 *
 * - It LISTENs for changes (`NOTIFY` on commit, see `recordChange`) and applies each at once
 *   through the change-log follower, which also polls: the log stays the durable record and the
 *   catch-up path. Each applied change is acknowledged (`NOTIFY` on `modelgate_ack`).
 * - It registers itself and writes a heartbeat every {@link HEARTBEAT_MS}.
 * - {@link waitForAcks}: a change this replica made is in force on every live replica before the
 *   call returns, or the replicas that did not acknowledge it within the bound are named and
 *   dropped from the live set (writers stop waiting for them).
 * - As a {@link ClusterGate}: when it loses its notification connection, misses a heartbeat or
 *   finds itself dropped, it keeps serving for `graceMs`, then is not ready (protected requests
 *   are refused) until the trouble is over and it has read the change log to its end.
 *
 * Liveness as others see it: a heartbeat younger than three intervals plus the grace. A replica
 * older than that has been failing closed for at least an interval already, so a writer that
 * no longer waits for it loses nothing.
 */
export class ReplicaSet implements ClusterGate {
  readonly self: ReplicaRef;
  private readonly troubles = new Set<Trouble>();
  /** performance.now() when the replica first might have missed a change; undefined when in step. */
  private behindSince: number | undefined;
  /** Bumped on every new trouble, so a catch-up that started before it does not clear it. */
  private generation = 0;
  private listener: NotificationListener | undefined;
  private readonly waiters = new Map<number, { acked: Set<string>; wake(): void }>();
  /**
   * Acknowledgements by change id, kept for a while: one can arrive before the writer starts
   * waiting (the change is delivered at commit, the wait begins after it).
   */
  private readonly acks = new Map<number, Set<string>>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectMs = RECONNECT_MS;
  /** How often the notification connection was lost: a wait that spans a loss heard nothing. */
  private feedLosses = 0;
  private closed = false;

  private constructor(private readonly options: ReplicaSetOptions) {
    this.self = { id: options.store.origin, name: replicaName() };
  }

  /** Connects the notification listener, registers this replica and starts its heartbeat. */
  static async start(options: ReplicaSetOptions): Promise<ReplicaSet> {
    const set = new ReplicaSet(options);
    // Listening before registering: once a writer counts this replica, its changes reach it.
    set.listener = await set.connect();
    await registerReplica(options.store, set.self);
    set.heartbeatTimer = setTimeout(() => void set.beat(), HEARTBEAT_MS).unref();
    options.log.info({ replica: set.self.name }, 'replica registered in the cluster');
    return set;
  }

  /** How recent a heartbeat must be for a writer to wait for the replica. */
  get liveWindowMs(): number {
    return 3 * HEARTBEAT_MS + this.options.graceMs;
  }

  ready(): boolean {
    const since = this.behindSince;
    return since === undefined || performance.now() - since < this.options.graceMs;
  }

  reason(): string | undefined {
    if (this.behindSince === undefined) return undefined;
    const what = [...this.troubles].map((t) => TROUBLE_TEXT[t]).join('; ') || 'it is reading the change log';
    return `this replica may be behind the cluster: ${what}`;
  }

  /**
   * Waits until every live replica acknowledged change `seq` (recorded by this process), for at
   * most `ackTimeoutMs`; those that did not are dropped from the live set and reported. Never
   * rejects: the change is committed either way.
   */
  async waitForAcks(seq: number): Promise<void> {
    const acked = this.acksOf(seq);
    const losses = this.feedLosses;
    let wake = (): void => {};
    this.waiters.set(seq, { acked, wake: () => wake() });
    try {
      const live = await liveReplicas(this.options.store, this.self.id, this.liveWindowMs);
      const pending = () => live.filter((r) => !acked.has(r.id));
      if (pending().length > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.ackTimeoutMs);
          wake = () => {
            if (pending().length === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
      }
      const late = pending();
      if (late.length > 0 && (this.feedLosses !== losses || this.troubles.has('feed'))) {
        // Acknowledgements arrive on this replica's own LISTEN connection: while it was down
        // their absence says nothing about the others, so none is dropped for it.
        this.options.log.warn(
          { replicas: late.map((r) => r.name), change: seq },
          'acknowledgements could not be heard (this replica lost its change feed); no replica dropped',
        );
        this.options.onUnacknowledged?.(late, seq, false);
      } else if (late.length > 0) {
        await dropReplicas(
          this.options.store,
          late.map((r) => r.id),
        );
        this.options.log.warn(
          { replicas: late.map((r) => r.name), change: seq, ack_timeout_ms: this.options.ackTimeoutMs },
          'replicas did not acknowledge a change in time; dropped from the live set',
        );
        this.options.onUnacknowledged?.(late, seq, true);
      }
    } catch (err) {
      this.options.log.warn({ err: String(err), change: seq }, 'could not confirm that every replica applied a change');
    } finally {
      this.waiters.delete(seq);
    }
  }

  /** Leaves the cluster: writers stop waiting for this replica at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    await this.listener?.close();
    await forgetReplica(this.options.store, this.self.id).catch(() => {});
  }

  private connect(): Promise<NotificationListener> {
    return listenForNotifications({
      url: this.options.databaseUrl,
      channels: [CHANGE_CHANNEL, ACK_CHANNEL],
      applicationName: `modelgate-listen:${this.self.name}`.slice(0, 63),
      onNotification: (channel, payload) => this.heard(channel, payload),
      onLost: (err) => this.feedLost(err),
    });
  }

  private heard(channel: string, payload: string | undefined): void {
    if (channel === CHANGE_CHANNEL) {
      const row = parseChangeNotification(payload);
      // Acknowledged by the follower's onApplied, once applied.
      if (row) void this.options.follower.deliver(row);
      return;
    }
    const ack = parseAck(payload);
    if (!ack) return;
    for (const id of ack.ids) {
      this.acksOf(id).add(ack.replica);
      this.waiters.get(id)?.wake();
    }
  }

  /** The replicas that acknowledged change `id` so far (the last {@link KEPT_ACKS} changes are kept). */
  private acksOf(id: number): Set<string> {
    let acked = this.acks.get(id);
    if (!acked) {
      acked = new Set();
      this.acks.set(id, acked);
      if (this.acks.size > KEPT_ACKS) this.acks.delete(this.acks.keys().next().value as number);
    }
    return acked;
  }

  /** The follower applied other processes' changes: tell the writers. */
  applied(ids: readonly number[]): void {
    acknowledge(this.options.store, this.self.id, ids).catch((err: unknown) =>
      this.options.log.warn({ err: String(err) }, 'could not acknowledge applied changes'),
    );
  }

  private feedLost(err: unknown): void {
    this.listener = undefined;
    this.feedLosses++;
    if (this.closed) return;
    this.trouble('feed', err);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.reconnect(), this.reconnectMs).unref();
  }

  private async reconnect(): Promise<void> {
    if (this.closed) return;
    try {
      const listener = await this.connect();
      if (this.closed) return void (await listener.close());
      this.listener = listener;
      this.reconnectMs = RECONNECT_MS;
      this.options.log.info({ replica: this.self.name }, 'change feed reconnected');
      await this.resolved('feed');
    } catch (err) {
      this.reconnectMs = Math.min(this.reconnectMs * 2, RECONNECT_MAX_MS);
      this.options.log.warn({ err: String(err), retry_ms: this.reconnectMs }, 'change feed reconnect failed');
      this.reconnectTimer = setTimeout(() => void this.reconnect(), this.reconnectMs).unref();
    }
  }

  private async beat(): Promise<void> {
    if (this.closed) return;
    try {
      const state = await withTimeout(heartbeat(this.options.store, this.self.id), 2 * HEARTBEAT_MS);
      if (state !== 'live') this.trouble('dropped', state === 'missing' ? 'row missing' : 'dropped');
      if (this.troubles.has('heartbeat')) await this.resolved('heartbeat');
      else if (this.troubles.has('dropped')) await this.resolved('dropped');
      // A connection that died silently (no FIN) is found here.
      await this.listener?.ping(2 * HEARTBEAT_MS).catch(() => {});
    } catch (err) {
      this.trouble('heartbeat', err);
    }
    if (!this.closed) this.heartbeatTimer = setTimeout(() => void this.beat(), HEARTBEAT_MS).unref();
  }

  private trouble(kind: Trouble, cause: unknown): void {
    this.generation++;
    if (!this.troubles.has(kind)) {
      this.troubles.add(kind);
      this.options.log.warn(
        { replica: this.self.name, cause: String(cause), grace_ms: this.options.graceMs },
        `replica may be behind the cluster: ${TROUBLE_TEXT[kind]}`,
      );
    }
    this.behindSince ??= performance.now();
  }

  /**
   * One trouble is over. Once none is left: rejoin the live set if dropped (before reading, so
   * any later change waits for this replica), read the change log to its end, and serve again
   * unless a new trouble began meanwhile.
   */
  private async resolved(kind: Trouble): Promise<void> {
    // Dropped ends only with the rejoin below.
    if (kind !== 'dropped') this.troubles.delete(kind);
    if (this.troubles.has('feed') || this.troubles.has('heartbeat')) return;
    const generation = this.generation;
    try {
      await registerReplica(this.options.store, this.self);
      this.troubles.delete('dropped');
      await this.options.follower.catchUp();
    } catch (err) {
      this.trouble('heartbeat', err);
      return;
    }
    if (generation !== this.generation || this.troubles.size > 0) return;
    if (this.behindSince !== undefined) {
      this.behindSince = undefined;
      this.options.log.info({ replica: this.self.name }, 'replica caught up with the cluster');
    }
  }
}

/** `host-pid`, in the characters a name in the audit log may have. */
function replicaName(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9_.-]/g, '_')
      .slice(0, 100) || 'host';
  return `${host}-${process.pid}`.replace(/^[^A-Za-z0-9]/, 'r');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
