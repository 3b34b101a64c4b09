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

/**
 * Bounds concurrent expensive credential checks (scrypt, ~50 ms of the thread pool each) node-wide
 * and per client, so a flood from a few addresses cannot starve everyone else's first login.
 * Shared by every password check of a node (Basic on the data plane; any later password sign-in).
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
export class ExpensiveCheckLimiter {
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

  /** Runs `check` when the client's share and the node's capacity allow, else says why not. */
  async run<T>(
    client: string,
    check: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false; charge: boolean }> {
    const running = this.perClient.get(client) ?? 0;
    const decision = decideCheck({ total: this.total, client: running }, this);
    if (decision !== 'run') return { ran: false, charge: decision === 'own_share' };
    this.total++;
    this.perClient.set(client, running + 1);
    try {
      return { ran: true, value: await check() };
    } finally {
      this.total--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      // Delete at zero so the map holds only clients with a check running: bounded by `capacity`.
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    }
  }
}
