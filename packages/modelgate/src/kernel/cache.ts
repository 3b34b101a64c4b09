import type { ChangeEvent, EventBus } from './event-bus.js';

/**
 * A bounded map that forgets its oldest entries first. Verifiers keep positive results here,
 * keyed by credential hash, so a known credential costs no store I/O; revoking events evict.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly capacity: number) {}

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.entries.has(key)) this.entries.delete(key);
    else if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Removes every entry whose value matches, e.g. all cache lines of one revoked key id. */
  deleteWhere(predicate: (value: V) => boolean): void {
    for (const [key, value] of this.entries) if (predicate(value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Which cached values an event evicts: a topic (or topics) whose subject is the value's `id`, or
 * a function that answers a predicate for the events it cares about (undefined for the others).
 */
export type Evictor<V> = string | readonly string[] | ((event: ChangeEvent) => ((value: V) => boolean) | undefined);

/**
 * A verifier's cache of known credentials, keyed by hash, whose entries a revoking event evicts
 * by id. A lookup that raced an eviction is returned but not cached, so a credential deleted
 * while it was being read cannot come back from the cache.
 *
 * @example
 * ```ts
 * const known = new RevocableCache<{ id: string }>(10_000, bus, TOPICS.apiKeyDeleted);
 * const entry = await known.get(hash, () => findByHash(hash));
 * ```
 */
export class RevocableCache<V extends { readonly id: string }> {
  private readonly cache: BoundedCache<V>;
  /** Bumped on every eviction; a load that started before one is not cached. */
  private generation = 0;

  constructor(capacity: number, bus: EventBus, evicts: Evictor<V>) {
    this.cache = new BoundedCache<V>(capacity);
    const select = evictorOf(evicts);
    bus.subscribe((event) => {
      const matches = select(event);
      if (!matches) return;
      this.generation++;
      this.cache.deleteWhere(matches);
    });
  }

  /** The cached entry alone, synchronously: the hot path of a known credential. */
  peek(key: string): V | undefined {
    return this.cache.get(key);
  }

  /** The cached entry, or what `load` finds (cached unless an eviction raced it). */
  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.cache.get(key);
    if (hit) return hit;
    const generation = this.generation;
    const loaded = await load();
    if (loaded && generation === this.generation) this.cache.set(key, loaded);
    return loaded;
  }
}

function evictorOf<V extends { readonly id: string }>(
  evicts: Evictor<V>,
): (event: ChangeEvent) => ((value: V) => boolean) | undefined {
  if (typeof evicts === 'function') return evicts;
  const topics: ReadonlySet<string> = new Set(typeof evicts === 'string' ? [evicts] : evicts);
  return (event) => (topics.has(event.topic) ? (value) => value.id === event.subject : undefined);
}
