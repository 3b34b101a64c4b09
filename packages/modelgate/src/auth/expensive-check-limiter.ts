/** Why a check was not started: `own_share` counts against the client, `node_cap` does not. */
export type CheckRefusal = 'own_share' | 'node_cap';

/**
 * The decision for one new check, given what runs now. A client may hold at most `share` of the
 * node-wide `capacity`; going past its share is its own doing. When the node is full, a client
 * that already holds a check is part of the crowd (its own doing too); a client with none
 * running did not fill the node and is only told to come back.
 */
export function decideCheck(
  running: { total: number; client: number },
  limits: { capacity: number; share: number },
): 'run' | CheckRefusal {
  if (running.client >= limits.share) return 'own_share';
  if (running.total >= limits.capacity) return running.client > 0 ? 'own_share' : 'node_cap';
  return 'run';
}

/** The per-client share of a capacity: a quarter, at least one. */
export function defaultShare(capacity: number): number {
  return Math.max(1, Math.floor(capacity / 4));
}

/** What a check may do: run, or why not. */
export type CheckDecision = 'run' | CheckRefusal;

/**
 * Where a node's expensive checks are counted. In-process it is an {@link ExpensiveCheckLimiter};
 * a worker of a multi-process node asks the primary's, so the cap and the per-client share hold
 * for the node, not per process (hence `acquire` may be asynchronous).
 */
export interface CheckSlots {
  /** Takes a slot for `client` when {@link decideCheck} says `run`; otherwise takes nothing. */
  acquire(client: string): CheckDecision | Promise<CheckDecision>;
  /** Gives back a slot `acquire` took for `client`. */
  release(client: string): void;
}

/**
 * Runs `check` in a slot of `slots` when the client's share and the node's capacity allow, else
 * says why not: `charge` is true for a refusal the client caused (its own share).
 */
export async function runLimited<T>(
  slots: CheckSlots,
  client: string,
  check: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false; charge: boolean }> {
  const decision = await slots.acquire(client);
  if (decision !== 'run') return { ran: false, charge: decision === 'own_share' };
  try {
    return { ran: true, value: await check() };
  } finally {
    slots.release(client);
  }
}

/**
 * Bounds concurrent expensive credential checks (scrypt, ~50 ms of the thread pool each) node-wide
 * and per client, so a flood from a few addresses cannot starve everyone else's first login.
 * Shared by every password check of a node (Basic on the data plane; any later password sign-in);
 * with workers, the primary holds the one instance and workers ask it (`CheckSlots`).
 * A refusal with `charge: true` should be counted by the caller as a failed authentication of
 * that client (see `FailureThrottle`), so a flooding address ends up locked out.
 *
 * @example
 * ```ts
 * const limiter = new ExpensiveCheckLimiter(16); // at most 4 at once per client
 * const outcome = await limiter.run(clientKey(addr), () => verifyPassword(password, hash));
 * if (!outcome.ran) return deny(outcome.charge ? 'throttled' : 'busy');
 * ```
 */
export class ExpensiveCheckLimiter implements CheckSlots {
  private readonly perClient = new Map<string, number>();
  private total = 0;
  readonly share: number;

  /**
   * @param capacity checks allowed at once, node-wide.
   * @param share checks allowed at once per client; a quarter of `capacity` by default.
   */
  constructor(
    readonly capacity: number,
    share?: number,
  ) {
    this.share = share ?? defaultShare(capacity);
  }

  acquire(client: string): CheckDecision {
    const running = this.perClient.get(client) ?? 0;
    const decision = decideCheck({ total: this.total, client: running }, this);
    if (decision !== 'run') return decision;
    this.total++;
    this.perClient.set(client, running + 1);
    return decision;
  }

  release(client: string): void {
    const left = (this.perClient.get(client) ?? 0) - 1;
    if (left < 0) return;
    this.total--;
    // Delete at zero so the map holds only clients with a check running: bounded by `capacity`.
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
  }

  /** Runs `check` when the client's share and the node's capacity allow, else says why not. */
  run<T>(client: string, check: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false; charge: boolean }> {
    return runLimited(this, client, check);
  }
}
