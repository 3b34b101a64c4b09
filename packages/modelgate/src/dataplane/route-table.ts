import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import type { EventBus } from '../kernel/event-bus.js';
import { TOPICS } from '../kernel/topics.js';

/** One servable deployment: its current revision's snapshot and whether it is enabled. */
export interface Route {
  readonly snapshot: DeploymentSnapshot;
  readonly enabled: boolean;
  /**
   * True while a change was announced but could not be read from the store: the gateway then
   * refuses the deployment (503) rather than serve settings that may have been revoked.
   */
  readonly stale?: boolean;
}

export type RouteLoader = (name: string) => Promise<Route | undefined>;

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * The gateway's in-memory view of every deployment. Lookups are a map read (no I/O on the hot
 * path). A `deployment.changed` event reloads that one deployment; reloads of one name run in
 * order, a failed reload marks the route stale and is retried with backoff, and a periodic
 * reconcile re-reads everything as a backstop for any event that was lost.
 */
export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private reconcileTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly load: RouteLoader,
    private readonly onError: (err: unknown) => void = () => {},
    /** Told when a deployment leaves the table (deleted, or no longer served). */
    private readonly onRemoved: (name: string) => void = () => {},
  ) {}

  /** Loads every deployment named; call once before serving. Throws if the store fails. */
  async loadAll(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const route = await this.load(name);
        if (route) this.routes.set(name, route);
      }),
    );
  }

  /** Follows `deployment.changed` on the bus; the returned promise settles when the reload did. */
  follow(bus: EventBus): void {
    bus.subscribe((event) => (event.topic === TOPICS.deploymentChanged ? this.reload(event.subject) : undefined));
  }

  /** Re-reads every deployment now and then, dropping those that are gone. */
  reconcileEvery(intervalMs: number, listNames: () => Promise<string[]>): void {
    const run = async () => {
      try {
        const names = new Set(await listNames());
        for (const name of this.routes.keys()) if (!names.has(name)) names.add(name);
        // A failed reconcile is not a missed change: it leaves routes as they are (no 503s
        // during a store outage), whereas a failed event-driven reload fails closed.
        await Promise.all([...names].map((n) => this.reload(n, 0, false)));
      } catch (err) {
        this.onError(err);
      }
      if (!this.closed) this.reconcileTimer = setTimeout(run, intervalMs).unref();
    };
    this.reconcileTimer = setTimeout(run, intervalMs).unref();
  }

  get(name: string): Route | undefined {
    return this.routes.get(name);
  }

  /** Re-reads one deployment; reloads of the same name run one after another. Never rejects. */
  reload(name: string, attempt = 0, changed = true): Promise<void> {
    const previous = this.pending.get(name) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        const route = await this.load(name);
        if (route) this.routes.set(name, route);
        else if (this.routes.delete(name)) this.onRemoved(name);
        this.clearRetry(name);
      } catch (err) {
        this.onError(err);
        if (!changed) return;
        const current = this.routes.get(name);
        if (current) this.routes.set(name, { ...current, stale: true });
        this.scheduleRetry(name, attempt);
      }
    });
    this.pending.set(name, next);
    next.finally(() => {
      if (this.pending.get(name) === next) this.pending.delete(name);
    });
    return next;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconcileTimer);
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  private scheduleRetry(name: string, attempt: number): void {
    if (this.closed || this.retries.has(name)) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
    const timer = setTimeout(() => {
      this.retries.delete(name);
      void this.reload(name, attempt + 1);
    }, delay).unref();
    this.retries.set(name, timer);
  }

  private clearRetry(name: string): void {
    const timer = this.retries.get(name);
    if (timer) clearTimeout(timer);
    this.retries.delete(name);
  }
}
