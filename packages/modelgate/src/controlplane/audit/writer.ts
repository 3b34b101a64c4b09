import type { Logger } from '../../log/logger.js';
import type { AuditRecord } from '../../store/audit-record.js';

export interface AuditWriterOptions {
  /** Stores one batch; a rejection keeps the batch queued (while there is room). */
  readonly write: (records: readonly AuditRecord[]) => Promise<void>;
  readonly log: Pick<Logger, 'warn'>;
  /** Records waiting to be written; more are dropped (and counted). */
  readonly maxQueue?: number;
  /** Records per insert. */
  readonly batchSize?: number;
  /** How often the queue is written; 0 = only on `flush()` (tests). */
  readonly flushIntervalMs?: number;
  /** Data-plane refusals kept per second on average, and as a burst; the rest are counted. */
  readonly refusalsPerSecond?: number;
  readonly refusalBurst?: number;
  readonly now?: () => number;
}

export const AUDIT_DEFAULTS = {
  maxQueue: 10_000,
  batchSize: 500,
  flushIntervalMs: 500,
  refusalsPerSecond: 50,
  refusalBurst: 200,
} as const;

/**
 * Writes audit records off the hot path: `record()` only queues, a timer writes the queue in
 * batches (refusals and failures: a crash loses what is queued; changes commit with their own
 * transaction instead, see `installAuditLog`). The queue is bounded, and data-plane refusals (which a flood can make cheaply) are
 * also rate-bounded by a token bucket; whatever does not fit is counted in `dropped` and logged
 * rather than slowing requests or growing memory. `close()` writes what is left.
 *
 * @example
 * ```ts
 * const audit = new AuditWriter({ write: (r) => insertAuditRecords(store, r), log });
 * audit.record(record);
 * await audit.close();
 * ```
 */
export class AuditWriter {
  readonly #options: Required<Omit<AuditWriterOptions, 'write' | 'log' | 'now'>>;
  readonly #write: AuditWriterOptions['write'];
  readonly #log: AuditWriterOptions['log'];
  readonly #now: () => number;
  #queue: AuditRecord[] = [];
  #dropped = 0;
  #droppedLogged = 0;
  #tokens: number;
  #refilledAt: number;
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AuditWriterOptions) {
    this.#options = {
      maxQueue: options.maxQueue ?? AUDIT_DEFAULTS.maxQueue,
      batchSize: options.batchSize ?? AUDIT_DEFAULTS.batchSize,
      flushIntervalMs: options.flushIntervalMs ?? AUDIT_DEFAULTS.flushIntervalMs,
      refusalsPerSecond: options.refusalsPerSecond ?? AUDIT_DEFAULTS.refusalsPerSecond,
      refusalBurst: options.refusalBurst ?? AUDIT_DEFAULTS.refusalBurst,
    };
    this.#write = options.write;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#tokens = this.#options.refusalBurst;
    this.#refilledAt = this.#now();
    if (this.#options.flushIntervalMs > 0) {
      this.#timer = setInterval(() => void this.flush(), this.#options.flushIntervalMs).unref();
    }
  }

  /** Records dropped so far (queue full or refusal rate exceeded). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues a record of a refused or failed management attempt (an allowed change commits with its transaction). */
  record(record: AuditRecord): void {
    if (this.#closed || this.#queue.length >= this.#options.maxQueue) {
      this.#dropped++;
      return;
    }
    this.#queue.push(record);
  }

  /**
   * Writes one record now, past the queue, and resolves once it is stored: for a change with no
   * transaction of its own to commit with (see `installAuditLog`). Rejects when the store does.
   */
  commit(record: AuditRecord): Promise<void> {
    return this.#write([record]);
  }

  /** Queues a data-plane refusal, within the refusal rate. */
  refusal(record: AuditRecord): void {
    if (!this.#takeToken()) {
      this.#dropped++;
      return;
    }
    this.record(record);
  }

  /** Writes everything queued so far; never rejects (failures are logged and retried). */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#drain());
    return this.#writing;
  }

  /** Stops the timer and writes what is left; later records are dropped. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#closed = true;
    await this.flush();
    const lost = this.#queue.length;
    if (lost > 0) {
      this.#dropped += lost;
      this.#queue = [];
    }
    this.#reportDropped();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.batchSize);
      try {
        await this.#write(batch);
      } catch (err) {
        // Keep the batch for the next tick while there is room; the store may be back by then.
        const room = Math.max(0, this.#options.maxQueue - this.#queue.length);
        this.#dropped += Math.max(0, batch.length - room);
        this.#queue.unshift(...batch.slice(0, room));
        this.#log.warn({ err: String(err), queued: this.#queue.length }, 'audit log write failed; will retry');
        break;
      }
    }
    this.#reportDropped();
  }

  #reportDropped(): void {
    if (this.#dropped === this.#droppedLogged) return;
    this.#log.warn(
      { dropped: this.#dropped - this.#droppedLogged, dropped_total: this.#dropped },
      'audit records dropped (queue full or data-plane refusal rate exceeded)',
    );
    this.#droppedLogged = this.#dropped;
  }

  #takeToken(): boolean {
    const now = this.#now();
    const { refusalsPerSecond, refusalBurst } = this.#options;
    this.#tokens = Math.min(refusalBurst, this.#tokens + ((now - this.#refilledAt) / 1000) * refusalsPerSecond);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
