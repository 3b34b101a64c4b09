import type { AuditRecord } from '../../store/audit-record.js';
import type { Store } from '../../store/database.js';
import type { CommitRider } from '../../store/transaction.js';

/**
 * The allowed-outcome record of one management change, waiting to commit with the change's
 * transaction (see `withCommitRider`): the first transaction of the request that commits writes
 * it; a rolled-back one leaves it for the next. Once the request is answered it is closed: a
 * change with no transaction of its own (minting a JWT, replacing an in-memory node key) has it
 * written before the answer leaves instead, and nothing later writes it again.
 */
export class AuditIntent implements CommitRider {
  #state: 'pending' | 'writing' | 'written' | 'closed' = 'pending';

  /**
   * @param build makes the record when it is written (the actor of a sign-in is known only then)
   * @param insert writes records within a transaction (`insertAuditRecords`)
   */
  constructor(
    private readonly build: () => AuditRecord,
    private readonly insert: (tx: Store, records: readonly AuditRecord[]) => Promise<void>,
  ) {}

  /** Whether a committed transaction holds the record. */
  get written(): boolean {
    return this.#state === 'written';
  }

  claim(): boolean {
    if (this.#state !== 'pending') return false;
    this.#state = 'writing';
    return true;
  }

  write(tx: Store): Promise<void> {
    return this.insert(tx, [this.build()]);
  }

  committed(): void {
    this.#state = 'written';
  }

  release(): void {
    if (this.#state === 'writing') this.#state = 'pending';
  }

  /**
   * At the answer: stops riding later transactions. True when no transaction wrote the record,
   * so the caller has to (a change outside the store, or a route whose work wrote nothing).
   */
  close(): boolean {
    if (this.#state !== 'pending') return false;
    this.#state = 'closed';
    return true;
  }
}
