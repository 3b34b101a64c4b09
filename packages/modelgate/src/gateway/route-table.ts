import type { DeploymentSnapshot } from '../control/snapshot.js';
import type { EventBus } from '../events/bus.js';

/** One servable deployment: its current revision's snapshot and whether it is enabled. */
export interface Route {
  readonly snapshot: DeploymentSnapshot;
  readonly enabled: boolean;
}

export type RouteLoader = (name: string) => Promise<Route | undefined>;

/**
 * The gateway's in-memory view of every deployment. Lookups are a map read (no I/O on the hot
 * path); a `deployment.changed` event reloads that one deployment from the store, and changes
 * are applied in the order they were announced so a slow reload never overwrites a newer one.
 */
export class RouteTable {
  private readonly routes = new Map<string, Route>();
  private readonly pending = new Map<string, Promise<void>>();

  constructor(private readonly load: RouteLoader) {}

  /** Loads every deployment; call once before serving. */
  async loadAll(names: readonly string[]): Promise<void> {
    await Promise.all(names.map((n) => this.reload(n)));
  }

  /** Follows `deployment.changed` on the bus. */
  follow(bus: EventBus, onError: (err: unknown) => void): void {
    bus.subscribe((event) =>
      event.topic === 'deployment.changed' ? this.reload(event.subject).catch(onError) : undefined,
    );
  }

  get(name: string): Route | undefined {
    return this.routes.get(name);
  }

  /** Re-reads one deployment; reloads of the same name run one after another. */
  reload(name: string): Promise<void> {
    const previous = this.pending.get(name) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(async () => {
        const route = await this.load(name);
        if (route) this.routes.set(name, route);
        else this.routes.delete(name);
      });
    this.pending.set(name, next);
    next
      .finally(() => {
        if (this.pending.get(name) === next) this.pending.delete(name);
      })
      .catch(() => {});
    return next;
  }
}
