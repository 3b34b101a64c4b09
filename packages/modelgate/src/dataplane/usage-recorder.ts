import type { PrincipalKind } from '../kernel/principal.js';
import type { UsageIncrement } from '../store/credential-usage.js';

/** Counts of one credential since the last flush. */
class Pending {
  requests = 0;
  /** Epoch ms of the last use. */
  last = 0;
}

export interface UsageRecorderOptions {
  /** The principal kinds whose use is counted (e.g. `api_key`); others are ignored at no cost. */
  readonly kinds: readonly PrincipalKind[];
  /** Writes one batch (one transaction); a rejection keeps the batch for the next flush. */
  readonly write: (batch: readonly UsageIncrement[]) => Promise<void>;
  /** How often pending counts are written; 0 writes only on `flush()`/`close()`. */
  readonly intervalMs: number;
  /** Told when a flush fails (the counts are kept and retried). */
  readonly onError?: (err: unknown, pending: number) => void;
  /** Credentials pending before a flush is started early (memory bound). Default 50 000. */
  readonly maxPending?: number;
}

const DEFAULT_MAX_PENDING = 50_000;

/**
 * Per-credential usage (requests, last used), counted in memory on the request path and written
 * off it in batches: every `intervalMs`, early when many credentials are pending, and on
 * `close()`. Generic over credential kinds (keyed by kind and id). Each process of a node keeps
 * its own recorder; the writes are additive, so their flushes add up.
 *
 * @example
 * ```ts
 * const usage = new UsageRecorder({ kinds: ['api_key'], intervalMs: 5000, write: (b) => addCredentialUsage(store, b) });
 * usage.record('api_key', 'key_123', Date.now()); // on each admitted request
 * await usage.close(); // on shutdown: the last counts are written
 * ```
 */
export class UsageRecorder {
  readonly #options: UsageRecorderOptions;
  readonly #maxPending: number;
  #pending: Map<string, Map<string, Pending>>;
  #size = 0;
  #flushing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: UsageRecorderOptions) {
    this.#options = options;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.#pending = this.#empty();
    if (options.intervalMs > 0) {
      this.#timer = setInterval(() => void this.flush(), options.intervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Counts one request made with a credential; `at` is epoch ms. A map read and two number
   * writes for a credential already pending; nothing for an uncounted kind.
   */
  record(kind: PrincipalKind, id: string, at: number): void {
    const byId = this.#pending.get(kind);
    if (byId === undefined) return;
    let entry = byId.get(id);
    if (entry === undefined) {
      entry = new Pending();
      byId.set(id, entry);
      if (++this.#size >= this.#maxPending) void this.flush();
    }
    entry.requests++;
    if (at > entry.last) entry.last = at;
  }

  /** Writes what is pending now (after any flush already running). Never rejects. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushOnce());
    return this.#flushing;
  }

  /** Stops the timer and writes the last counts. */
  async close(): Promise<void> {
    if (this.#closed) return this.#flushing;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.flush();
  }

  async #flushOnce(): Promise<void> {
    if (this.#size === 0) return;
    const batch = this.#pending;
    this.#pending = this.#empty();
    this.#size = 0;
    const increments: UsageIncrement[] = [];
    for (const [kind, byId] of batch) {
      for (const [credentialId, p] of byId) {
        increments.push({ kind, credentialId, requests: p.requests, lastUsedAt: new Date(p.last).toISOString() });
      }
    }
    try {
      await this.#options.write(increments);
    } catch (err) {
      // Kept for the next flush (merged with what came meanwhile), unless memory is at its bound.
      if (this.#size + increments.length <= this.#maxPending * 2) this.#merge(batch);
      this.#options.onError?.(err, increments.length);
    }
  }

  #merge(batch: Map<string, Map<string, Pending>>): void {
    for (const [kind, byId] of batch) {
      const into = this.#pending.get(kind);
      if (into === undefined) continue;
      for (const [id, p] of byId) {
        const entry = into.get(id);
        if (entry === undefined) {
          into.set(id, p);
          this.#size++;
        } else {
          entry.requests += p.requests;
          if (p.last > entry.last) entry.last = p.last;
        }
      }
    }
  }

  #empty(): Map<string, Map<string, Pending>> {
    return new Map(this.#options.kinds.map((kind) => [kind, new Map<string, Pending>()]));
  }
}
