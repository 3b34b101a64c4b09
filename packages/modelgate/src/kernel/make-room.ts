/**
 * Keeps a per-client map bounded before a new key goes in: when it holds `max` entries, those
 * `done` says are over go first, then the oldest (insertion order; an attacker rotating through
 * keys forgets its own first, never the newest), until a tenth of `max` is free. A tenth at once,
 * so a flood of fresh keys (an IPv6 /48 holds 65,536 /64s) costs one sweep per `max / 10` new
 * keys, not one per key.
 *
 * @example
 * ```ts
 * makeRoom(slots, 100_000, (slot) => slot.ends <= now);
 * slots.set(key, fresh);
 * ```
 */
export function makeRoom<V>(map: Map<string, V>, max: number, done: (value: V) => boolean): void {
  if (map.size < max) return;
  for (const [key, value] of map) if (done(value)) map.delete(key);
  const room = Math.max(1, Math.floor(max / 10));
  while (map.size > max - room) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
