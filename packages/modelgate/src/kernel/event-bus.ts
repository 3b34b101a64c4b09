import { isTopic, type Topic } from './topics.js';

/**
 * A change that can revoke access somewhere. Every cache that could keep a revoked credential
 * alive subscribes and evicts on the topics it cares about.
 */
export interface ChangeEvent {
  /** What changed, e.g. `admin_key.deleted`, `deployment.changed` (see `TOPICS`). */
  readonly topic: Topic;
  /** The id of the thing that changed (never a secret). `*` means "everything of this topic". */
  readonly subject: string;
  /**
   * The change-log id, set only by the process that recorded the change: a replica of a
   * PostgreSQL cluster then waits until every live replica applied it (see `node/cluster/`).
   * Never set on a change heard from the log or a notification.
   */
  readonly seq?: number;
}

/** Whether a value received from another process is a change event of a topic this build knows. */
export function isChangeEvent(value: unknown): value is ChangeEvent {
  const event = value as Partial<ChangeEvent> | null;
  return typeof event === 'object' && event !== null && isTopic(event.topic) && typeof event.subject === 'string';
}

/** A listener may return a promise (a reload, say); `publish` resolves once all have settled. */
export type ChangeListener = (event: ChangeEvent) => void | Promise<void>;

/** The invalidation bus. In-process here; PostgreSQL NOTIFY and the change log carry it across replicas. */
export interface EventBus {
  /** Delivers to every listener; resolves when their work is done, so a change made by this
   * process is in force before the API call that made it answers. Never rejects. */
  publish(event: ChangeEvent): Promise<void>;
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
    async publish(event) {
      const pending: Promise<void>[] = [];
      for (const listener of listeners) {
        try {
          const result = listener(event);
          if (result) pending.push(result.catch(() => {}));
        } catch {
          // A failing listener must not keep the others from hearing about the change.
        }
      }
      await Promise.all(pending);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
