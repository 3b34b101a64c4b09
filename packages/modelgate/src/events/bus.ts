/**
 * A change that can revoke access somewhere. Every cache that could keep a revoked credential
 * alive subscribes and evicts on the topics it cares about.
 */
export interface ChangeEvent {
  /** What changed, e.g. `admin_key.deleted`, `deployment.updated`. */
  readonly topic: string;
  /** The id of the thing that changed (never a secret). `*` means "everything of this topic". */
  readonly subject: string;
}

export type ChangeListener = (event: ChangeEvent) => void;

/** The invalidation bus. In-process here; PostgreSQL NOTIFY and Redis carry it across replicas. */
export interface EventBus {
  publish(event: ChangeEvent): void;
  subscribe(listener: ChangeListener): () => void;
}

/**
 * Delivers events synchronously to every listener of this process, so a change made by this
 * process is in force for the very next request.
 *
 * @example
 * ```ts
 * const bus = createLocalBus();
 * bus.subscribe((e) => cache.evict(e.subject));
 * bus.publish({ topic: 'api_key.deleted', subject: 'key_123' });
 * ```
 */
export function createLocalBus(): EventBus {
  const listeners = new Set<ChangeListener>();
  return {
    publish(event) {
      for (const listener of listeners) listener(event);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
