import type { RedisLink } from './redis-link.js';

/** Marks loaded at most on a (re)connection. */
const MAX_LOADED = 100_000;

/**
 * Marks every replica must know about until they expire: `key` until `until` (epoch ms), e.g. a
 * throttle lock or a client that failed a password check. A mark made on one replica is
 * broadcast over the {@link RedisLink} (each replica applies it before acknowledging, so
 * {@link mark} resolves once it is in force everywhere, within the link's bound) and kept in a
 * sorted set, so a replica that (re)connects, or starts, loads the marks still running.
 *
 * The marks themselves live with their user (a throttle's lock mirror, the limiter's failure
 * memory): this only carries them. Nothing here is on a request's hot path.
 *
 * @example
 * ```ts
 * const locks = new SharedMarks(redis, 'throttle:data');
 * locks.onMark((key, until) => mirror.set(key, until)); // other replicas' marks, and those loaded
 * mirror.set(key, until);
 * await locks.mark(key, until); // every replica that answers in time has it now
 * ```
 */
export class SharedMarks {
  private readonly listeners: ((key: string, until: number) => unknown)[] = [];
  private readonly set: string;

  constructor(
    private readonly link: RedisLink,
    private readonly name: string,
    private readonly now: () => number = Date.now,
  ) {
    this.set = link.key('marks', name);
    link.subscribe(`marks:${name}`, (message) => {
      const mark = parseMark(message);
      return mark ? this.deliver(mark[0], mark[1]) : undefined;
    });
    // Whatever was marked while this replica was away (or before it started) and still runs.
    link.onChange((up) => {
      if (up) this.load().catch(() => {});
    });
    if (link.up) this.load().catch(() => {});
  }

  /** Calls `listener` for each mark made by another replica, or loaded on a (re)connection. */
  onMark(listener: (key: string, until: number) => unknown): void {
    this.listeners.push(listener);
  }

  /**
   * Tells every other replica that `key` is marked until `until`; resolves once each has applied
   * it (bounded by the link's timeout). Never rejects: while Redis is down the mark stays with
   * the replica that made it (its caller applied it already).
   */
  async mark(key: string, until: number): Promise<void> {
    if (!this.link.up) return;
    await Promise.allSettled([
      this.link.client
        .multi()
        .zadd(this.set, until, key)
        .zremrangebyscore(this.set, '-inf', this.now())
        // Every mark of one set lives as long: the newest ends last.
        .pexpireat(this.set, until)
        .exec(),
      this.link.broadcast(`marks:${this.name}`, JSON.stringify([key, until])),
    ]);
  }

  private async load(): Promise<void> {
    const flat = await this.link.client.zrangebyscore(
      this.set,
      `(${this.now()}`,
      '+inf',
      'WITHSCORES',
      'LIMIT',
      0,
      MAX_LOADED,
    );
    for (let i = 0; i + 1 < flat.length; i += 2) await this.deliver(flat[i]!, Number(flat[i + 1]));
  }

  private async deliver(key: string, until: number): Promise<void> {
    if (!(until > this.now())) return;
    await Promise.all(this.listeners.map((listener) => listener(key, until)));
  }
}

/** A mark as broadcast (`["key", until]`), or undefined when the message is not one. */
export function parseMark(message: string): [key: string, until: number] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [key, until] = value as unknown[];
  return typeof key === 'string' && typeof until === 'number' && Number.isFinite(until) ? [key, until] : undefined;
}
