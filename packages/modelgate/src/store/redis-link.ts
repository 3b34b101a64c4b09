import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log/logger.js';

/** How a {@link RedisLink} is opened (from `redis_url`, `redis_key_prefix`, `redis_timeout_ms`). */
export interface RedisLinkOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://...`. Never logged (it may hold a password). */
  readonly url: string;
  /** Put before every key and channel name ({@link RedisLink.key}), e.g. `modelgate:`. */
  readonly prefix: string;
  /** Bound on one command, and on waiting for acknowledgements ({@link RedisLink.broadcast}). */
  readonly timeoutMs: number;
  readonly log: Logger;
}

/** What {@link RedisLink.broadcast} found out: how many subscribers got it, how many applied it in time. */
export interface Broadcast {
  /** Subscribers Redis delivered the message to (this node's own subscriber included). */
  readonly receivers: number;
  /** Of those, how many acknowledged within the bound (every one, normally). */
  readonly acknowledged: number;
}

/** How often the link pings Redis (a hung server keeps its TCP connection: only a ping tells). */
const HEARTBEAT_MS = 1000;
/** Longest wait between reconnection attempts. */
const RECONNECT_MAX_MS = 1000;

interface Pending {
  acked: number;
  expected: number;
  done(): void;
}

/** A broadcast as it travels: origin link id, sequence number, message. */
interface Envelope {
  readonly o: string;
  readonly i: number;
  readonly m: string;
}

/**
 * The node's one connection to Redis (`redis_url`), for everything replicas count or tell each
 * other: the failure and sign-in throttles, the password-check failure memory, and whatever
 * else needs a shared counter (rate limits). Opened by the node (`startNode`) and closed when it
 * stops; with `workers`, only the primary holds one.
 *
 * - {@link client}: an ioredis client for commands (counters, `rate-limiter-flexible`'s
 *   `storeClient`). Commands fail fast instead of queueing while Redis is unreachable
 *   (`enableOfflineQueue: false`) and time out after `timeoutMs` (`commandTimeout`), so a caller
 *   that falls back to a local count on any rejection never waits longer than that.
 * - {@link up}: true while both connections are ready and the last ping answered in time. Check
 *   it before a command on a request's path, and count locally when it is false.
 * - {@link onChange}: told each change of `up` (also the first connection). Each change is logged
 *   once (`Redis connected`, `Redis unreachable`, `Redis reachable again`).
 * - {@link subscribe} / {@link broadcast}: pub/sub over a second connection, with
 *   acknowledgements: a broadcast resolves once every subscriber that received it has run its
 *   handler (bounded by `timeoutMs`), so a lock announced this way is in force everywhere before
 *   the caller answers.
 * - {@link key}: the prefixed name of a key or channel (`redis_key_prefix`).
 *
 * @example
 * ```ts
 * const redis = new RedisLink({ url: config.redis_url, prefix: 'modelgate:', timeoutMs: 500, log });
 * await redis.whenUp(500); // false: it keeps trying in the background; count locally meanwhile
 * const limiter = new RateLimiterRedis({ storeClient: redis.client, keyPrefix: redis.key('rate', 'dep_1'), points: 10, duration: 1 });
 * redis.subscribe('locks', (message) => applyLock(message));
 * if (redis.up) await redis.broadcast('locks', JSON.stringify(['203.0.113.7', until]));
 * redis.onChange((up) => gauge.set(up ? 1 : 0));
 * await redis.close();
 * ```
 */
export class RedisLink {
  /** Commands: counters, scripts, `PUBLISH`. Fails fast while down; times out after `timeoutMs`. */
  readonly client: Redis;
  readonly prefix: string;
  readonly timeoutMs: number;
  /** This link's name in broadcasts (`host-pid-random`): a node ignores its own messages. */
  readonly id: string;
  readonly #subscriber: Redis;
  readonly #log: Logger;
  readonly #where: string;
  readonly #listeners = new Set<(up: boolean) => void>();
  readonly #handlers = new Map<string, ((message: string) => unknown)[]>();
  readonly #pending = new Map<number, Pending>();
  readonly #ackChannel: string;
  readonly #heartbeat: NodeJS.Timeout;
  #seq = 0;
  #healthy = false;
  #up = false;
  /** What the log last said: nothing yet, up or down. */
  #reported: boolean | undefined;
  #closed = false;

  constructor(options: RedisLinkOptions) {
    this.prefix = options.prefix;
    this.timeoutMs = options.timeoutMs;
    this.#log = options.log;
    this.#where = describeRedisUrl(options.url);
    this.id = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const common: RedisOptions = {
      connectTimeout: Math.max(1000, options.timeoutMs),
      retryStrategy: (times) => Math.min(times * 100, RECONNECT_MAX_MS),
      // A command cut by a lost connection fails at once (the caller counts locally) rather than
      // being replayed later, when its answer no longer matters.
      maxRetriesPerRequest: 0,
      connectionName: `modelgate:${this.id}`,
    };
    this.client = new Redis(options.url, { ...common, enableOfflineQueue: false, commandTimeout: options.timeoutMs });
    // The subscriber queues its SUBSCRIBEs until connected and renews them after a reconnect.
    this.#subscriber = new Redis(options.url, { ...common, autoResubscribe: true });
    this.#ackChannel = this.key('ack', this.id);

    for (const connection of [this.client, this.#subscriber]) {
      // Reconnection errors repeat every second while Redis is away: the state change is logged once instead.
      connection.on('error', () => {});
      connection.on('close', () => this.#refresh());
      connection.on('ready', () => this.#ping());
    }
    this.#subscriber.on('message', (channel: string, raw: string) => this.#receive(channel, raw));
    this.#subscriber.subscribe(this.#ackChannel).catch(() => {});
    this.#heartbeat = setInterval(() => this.#ping(), HEARTBEAT_MS).unref();
  }

  /** True while both connections are ready and the last ping answered within `timeoutMs`. */
  get up(): boolean {
    return this.#up;
  }

  /** `prefix` + the parts joined by `:`, e.g. `key('throttle', 'data')` → `modelgate:throttle:data`. */
  key(...parts: readonly string[]): string {
    return `${this.prefix}${parts.join(':')}`;
  }

  /** Calls `listener` on every change of {@link up}; returns the way to stop. */
  onChange(listener: (up: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves true once {@link up}, or false after `ms` (then logs, once, that Redis is
   * unreachable). The link keeps reconnecting either way.
   */
  async whenUp(ms: number): Promise<boolean> {
    if (!this.#up) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        const stop = this.onChange((up) => up && done());
        function done() {
          clearTimeout(timer);
          stop();
          resolve();
        }
      });
    }
    this.#report(this.#up);
    return this.#up;
  }

  /**
   * Runs `handler` for each message broadcast on `channel` (a name under the prefix) by another
   * node; its result (a promise too) is awaited, with every other handler of the channel,
   * before the message is acknowledged. A node does not hear its own broadcasts: it applies its
   * change before broadcasting it.
   */
  subscribe(channel: string, handler: (message: string) => unknown): void {
    const full = this.key('bus', channel);
    const handlers = this.#handlers.get(full);
    if (handlers) {
      handlers.push(handler);
      return;
    }
    this.#handlers.set(full, [handler]);
    this.#subscriber.subscribe(full).catch(() => {});
  }

  /**
   * Sends `message` to every node subscribed to `channel` and waits until each has run its
   * handler, at most `timeoutMs` after Redis took it. Rejects when Redis does not take it (down,
   * timed out): the caller then knows no other node heard it.
   */
  async broadcast(channel: string, message: string): Promise<Broadcast> {
    const id = ++this.#seq;
    let done = () => {};
    const settled = new Promise<void>((resolve) => {
      done = resolve;
    });
    // Registered before the PUBLISH: acknowledgements may come back before its reply does.
    const pending: Pending = { acked: 0, expected: Number.POSITIVE_INFINITY, done };
    this.#pending.set(id, pending);
    let timer: NodeJS.Timeout | undefined;
    try {
      const envelope: Envelope = { o: this.id, i: id, m: message };
      const receivers = await this.client.publish(this.key('bus', channel), JSON.stringify(envelope));
      pending.expected = receivers;
      if (pending.acked >= receivers) done();
      await Promise.race([
        settled,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.timeoutMs);
        }),
      ]);
      return { receivers, acknowledged: Math.min(pending.acked, receivers) };
    } finally {
      clearTimeout(timer);
      this.#pending.delete(id);
    }
  }

  /** Closes both connections; pending broadcasts stop waiting. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const pending of this.#pending.values()) pending.done();
    this.#listeners.clear();
    this.client.disconnect();
    this.#subscriber.disconnect();
  }

  #receive(channel: string, raw: string): void {
    if (channel === this.#ackChannel) {
      const pending = this.#pending.get(Number(raw));
      if (!pending) return;
      pending.acked++;
      if (pending.acked >= pending.expected) pending.done();
      return;
    }
    const handlers = this.#handlers.get(channel);
    const envelope = parseEnvelope(raw);
    if (!handlers || !envelope) return;
    const ack = () => {
      if (this.#closed || this.client.status !== 'ready') return;
      this.client.publish(this.key('ack', envelope.o), String(envelope.i)).catch(() => {});
    };
    if (envelope.o === this.id) {
      ack();
      return;
    }
    Promise.resolve()
      .then(() => Promise.all(handlers.map((handler) => handler(envelope.m))))
      .catch((err: unknown) => this.#log.warn({ err: String(err), channel }, 'Redis message not applied'))
      .finally(ack);
  }

  #ping(): void {
    if (this.#closed) return;
    if (this.client.status !== 'ready') {
      this.#healthy = false;
      this.#refresh();
      return;
    }
    this.client.ping().then(
      () => {
        this.#healthy = true;
        this.#refresh();
      },
      () => {
        this.#healthy = false;
        this.#refresh();
      },
    );
  }

  #refresh(): void {
    if (this.#closed) return;
    const up = this.#healthy && this.client.status === 'ready' && this.#subscriber.status === 'ready';
    if (up === this.#up) return;
    this.#up = up;
    // Before `whenUp` has settled the start, only a connection is worth a line (not the attempts).
    if (up || this.#reported !== undefined) this.#report(up);
    for (const listener of this.#listeners) listener(up);
  }

  #report(up: boolean): void {
    if (this.#reported === up) return;
    const before = this.#reported;
    this.#reported = up;
    if (!up) {
      this.#log.warn({ redis: this.#where }, 'Redis unreachable: counting in this replica until it is back');
    } else if (before === undefined) {
      this.#log.info({ redis: this.#where }, 'Redis connected: counters shared across replicas');
    } else {
      this.#log.info({ redis: this.#where }, 'Redis reachable again: counters shared across replicas');
    }
  }
}

/**
 * A broadcast as received, or undefined when it is not one of ours (a stranger on the channel,
 * a garbled message): `{o: origin, i: sequence, m: message}`.
 */
export function parseEnvelope(raw: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { o, i, m } = value as Record<string, unknown>;
  if (typeof o !== 'string' || typeof m !== 'string' || !Number.isSafeInteger(i)) return undefined;
  return { o, i: i as number, m };
}

/** `host:port/db` of a Redis URL, for logs: never its user or password. */
export function describeRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const db = parsed.pathname.replace(/^\//, '');
    return `${parsed.hostname}:${parsed.port || '6379'}${db ? `/${db}` : ''}`;
  } catch {
    return '(unparsable redis_url)';
  }
}
