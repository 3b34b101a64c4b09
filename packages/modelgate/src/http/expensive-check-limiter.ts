import { ExpiryMap } from '../kernel/expiry-map.js';

/** Why a check was not started: `own_share` counts against the client, `node_cap` does not. */
export type CheckRefusal = 'own_share' | 'node_cap';

/**
 * Which lane a new check takes. `clean`: the client has no recent failed check and nothing
 * running or waiting, so it may wait for a slot, ahead of everyone else. `suspect`: anything
 * else, which only takes a slot nobody clean needs. An attacker with many addresses gets one
 * clean check per fresh address per failure window, never more.
 */
export type Lane = 'clean' | 'suspect';

/** What the limiter does with a new check: start it, queue it (clean lane only), or refuse it. */
export type CheckStart = 'run' | 'wait' | CheckRefusal;

/** The limits {@link decideCheck} applies. */
export interface CheckLimits {
  /** Checks running at once, node-wide. */
  readonly capacity: number;
  /** Checks one client may hold (running or waiting). */
  readonly share: number;
  /** Slots only the clean lane may take: a clean newcomer starts at once though suspects are busy. */
  readonly reserve: number;
  /** Clean checks that may wait for a slot; more are refused (`node_cap`). */
  readonly maxWaiting: number;
}

/** The lane of a client's next check (see {@link Lane}). */
export function laneOf(client: { readonly held: number; readonly failedRecently: boolean }): Lane {
  return client.held === 0 && !client.failedRecently ? 'clean' : 'suspect';
}

/**
 * The decision for one new check, given what runs and waits now. A client may hold at most
 * `share` checks; going past it is its own doing. A clean check runs when a slot is free and no
 * clean check waits before it, else waits in line (FIFO) while the line is short enough. A
 * suspect check runs only when a slot outside the clean reserve is free and nobody clean waits;
 * it never waits. Refused at a full node, a client that already holds a check is part of the
 * crowd (its own doing); otherwise it did not fill the node and is only told to come back.
 */
export function decideCheck(
  running: { readonly total: number; readonly client: number; readonly waiting: number },
  lane: Lane,
  limits: CheckLimits,
): CheckStart {
  if (running.client >= limits.share) return 'own_share';
  if (lane === 'clean') {
    if (running.total < limits.capacity && running.waiting === 0) return 'run';
    return running.waiting < limits.maxWaiting ? 'wait' : 'node_cap';
  }
  if (running.total < limits.capacity - limits.reserve && running.waiting === 0) return 'run';
  return running.total >= limits.capacity && running.client > 0 ? 'own_share' : 'node_cap';
}

/** The per-client share of a capacity: a quarter, at least one. */
export function defaultShare(capacity: number): number {
  return Math.max(1, Math.floor(capacity / 4));
}

/** The clean lane's reserve of a capacity: a quarter (none below 4, so one slot stays usable). */
export function defaultReserve(capacity: number): number {
  return Math.floor(capacity / 4);
}

/** What a check may do once asked: run, or why not (a wait has ended by then). */
export type CheckDecision = 'run' | CheckRefusal;

/**
 * Where a node's expensive checks are counted. In-process it is an {@link ExpensiveCheckLimiter};
 * a worker of a multi-process node asks the primary's, so the cap, the per-client share and the
 * memory of failed checks hold for the node, not per process (hence `acquire` may be
 * asynchronous, and is when a clean check waits for a slot).
 */
export interface CheckSlots {
  /** Takes a slot for `client`, waiting for one in the clean lane; otherwise takes nothing. */
  acquire(client: string): CheckDecision | Promise<CheckDecision>;
  /**
   * Gives back a slot `acquire` took for `client`. `failed`: the check refused the credential,
   * so the client's next checks are `suspect` for the failure window.
   */
  release(client: string, failed?: boolean): void;
}

/** The outcome of a limited check: its verdict, or why it did not run. */
export type LimitedCheck = { ran: true; value: boolean } | { ran: false; charge: boolean };

/**
 * Runs the password check `check` (true: the credential is right) in a slot of `slots` when the
 * client's lane, its share and the node's capacity allow, else says why not: `charge` is true
 * for a refusal the client caused (its own share). A `false` verdict is remembered against the
 * client; a throw is not a verdict and is not.
 */
export async function runLimited(
  slots: CheckSlots,
  client: string,
  check: () => Promise<boolean>,
): Promise<LimitedCheck> {
  const decision = await slots.acquire(client);
  if (decision !== 'run') return { ran: false, charge: decision === 'own_share' };
  let failed = false;
  try {
    const value = await check();
    failed = !value;
    return { ran: true, value };
  } finally {
    slots.release(client, failed);
  }
}

/** Options of an {@link ExpensiveCheckLimiter}; every one has a default. */
export interface LimiterOptions {
  /** Checks one client may hold at once; a quarter of the capacity by default. */
  readonly share?: number;
  /** Slots kept for the clean lane; a quarter of the capacity by default. */
  readonly reserve?: number;
  /** Clean checks that may wait at once; 16 per slot by default. */
  readonly maxWaiting?: number;
  /** How long a clean check waits for a slot before it is refused (`node_cap`); 5 s by default. */
  readonly maxWaitMs?: number;
  /** How long a failed check makes its client `suspect`; 60 s by default (`failure_window_s`). */
  readonly failureWindowMs?: number;
  /** Clients remembered as failed at most; the oldest are forgotten first. 100 000 by default. */
  readonly maxRemembered?: number;
  /** Injectable clock for the failure memory. */
  readonly now?: () => number;
  /**
   * Told each failed check of this limiter (`client` is suspect until `until`, epoch ms): with
   * `redis_url` the node passes it to the other replicas, whose limiters learn it through
   * {@link ExpensiveCheckLimiter.suspect}. The capacity and the shares stay per replica.
   */
  readonly onFailure?: (client: string, until: number) => void;
}

interface Waiter {
  readonly client: string;
  readonly resolve: (decision: CheckDecision) => void;
  timer?: NodeJS.Timeout;
  /** Gave up (timed out): skipped when its turn comes. */
  done: boolean;
}

/**
 * Bounds concurrent expensive credential checks (scrypt, ~50 ms of the thread pool each) node-wide
 * and per client, and orders them so a spray of wrong passwords from many addresses cannot lock
 * out everyone else's first login: a client with no recent failed check (`clean`) waits for a
 * slot in line, ahead of clients that failed recently (`suspect`), which only take slots nobody
 * clean needs and never wait. Shared by every password check of a node (Basic on the data plane,
 * management sign-in); with workers, the primary holds the one instance and workers ask it.
 * Across replicas (`redis_url`) only the memory of failed checks is shared (`onFailure` out,
 * {@link ExpensiveCheckLimiter.suspect} in): the capacity protects this replica's CPU and stays
 * its own.
 * A refusal with `charge: true` should be counted by the caller as a failed authentication of
 * that client (see `FailureThrottle`), so a flooding address ends up locked out.
 *
 * @example
 * ```ts
 * const limiter = new ExpensiveCheckLimiter(16); // at most 4 at once per client, 4 kept for clean clients
 * const outcome = await limiter.run(clientKey(addr), () => verifyPassword(password, hash));
 * if (!outcome.ran) return deny(outcome.charge ? 'throttled' : 'busy');
 * ```
 */
export class ExpensiveCheckLimiter implements CheckSlots {
  /** Checks held per client, running or waiting; only clients holding one are kept. */
  private readonly perClient = new Map<string, number>();
  /** Clean checks waiting for a slot, oldest first (from `head`). */
  private queue: Waiter[] = [];
  private head = 0;
  private waitingCount = 0;
  private total = 0;
  /** Client → until when it counts as having failed (here, or on another replica). */
  private readonly failures: ExpiryMap;
  private readonly now: () => number;
  private readonly onFailure: ((client: string, until: number) => void) | undefined;
  private readonly limits: CheckLimits;
  private readonly maxWaitMs: number;
  private readonly failureWindowMs: number;

  /** @param capacity checks allowed at once, node-wide. */
  constructor(
    readonly capacity: number,
    options: LimiterOptions = {},
  ) {
    this.limits = {
      capacity,
      share: options.share ?? defaultShare(capacity),
      reserve: options.reserve ?? defaultReserve(capacity),
      maxWaiting: options.maxWaiting ?? capacity * 16,
    };
    this.maxWaitMs = options.maxWaitMs ?? 5_000;
    this.failureWindowMs = options.failureWindowMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.failures = new ExpiryMap(options.maxRemembered ?? 100_000, this.now);
    this.onFailure = options.onFailure;
  }

  /** Checks one client may hold at once. */
  get share(): number {
    return this.limits.share;
  }

  /** Checks running now. */
  get running(): number {
    return this.total;
  }

  /** Clean checks waiting for a slot now. */
  get waiting(): number {
    return this.waitingCount;
  }

  acquire(client: string): CheckDecision | Promise<CheckDecision> {
    const held = this.perClient.get(client) ?? 0;
    const lane = laneOf({ held, failedRecently: this.failedRecently(client) });
    const decision = decideCheck({ total: this.total, client: held, waiting: this.waitingCount }, lane, this.limits);
    if (decision === 'own_share' || decision === 'node_cap') return decision;
    this.perClient.set(client, held + 1);
    if (decision === 'run') {
      this.total++;
      return 'run';
    }
    return this.enqueue(client);
  }

  release(client: string, failed = false): void {
    if (failed) this.rememberFailure(client);
    if (!this.drop(client)) return;
    this.total = Math.max(0, this.total - 1);
    this.admitWaiting();
  }

  /** Runs `check` when the client's lane, share and the node's capacity allow, else says why not. */
  run(client: string, check: () => Promise<boolean>): Promise<LimitedCheck> {
    return runLimited(this, client, check);
  }

  private enqueue(client: string): Promise<CheckDecision> {
    return new Promise((resolve) => {
      const waiter: Waiter = { client, resolve, done: false };
      waiter.timer = setTimeout(() => {
        // Out of time: the client did not fill the node, so it is only told to come back.
        waiter.done = true;
        this.waitingCount--;
        this.drop(client);
        this.admitWaiting();
        resolve('node_cap');
      }, this.maxWaitMs);
      waiter.timer.unref();
      this.queue.push(waiter);
      this.waitingCount++;
    });
  }

  /** Hands freed slots to the clean checks waiting longest; forgets those that gave up. */
  private admitWaiting(): void {
    for (;;) {
      while (this.head < this.queue.length && this.queue[this.head]!.done) this.head++;
      if (this.head === this.queue.length || this.total >= this.limits.capacity) break;
      const waiter = this.queue[this.head++]!;
      waiter.done = true;
      clearTimeout(waiter.timer);
      this.waitingCount--;
      this.total++;
      waiter.resolve('run');
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      // Compact now and then, so the array does not keep every waiter of a long busy spell.
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** One check of `client` ended (ran or gave up); false when it held none. */
  private drop(client: string): boolean {
    const left = (this.perClient.get(client) ?? 0) - 1;
    if (left < 0) return false;
    // Delete at zero so the map holds only clients with a check: bounded by capacity + waiting.
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
    return true;
  }

  /**
   * `client` failed a check elsewhere (another replica's limiter): its checks here are
   * `suspect` until `until` (epoch ms). Bounded like the limiter's own memory.
   */
  suspect(client: string, until: number): void {
    this.failures.set(client, until);
  }

  private failedRecently(client: string): boolean {
    return this.failures.until(client) > 0;
  }

  /**
   * Marks `client` suspect for the failure window; a success never clears it (as
   * `FailureThrottle`). Bounded: the oldest failure is forgotten first (the closest to expiring).
   */
  private rememberFailure(client: string): void {
    const until = this.now() + this.failureWindowMs;
    this.failures.set(client, until);
    this.onFailure?.(client, until);
  }
}
