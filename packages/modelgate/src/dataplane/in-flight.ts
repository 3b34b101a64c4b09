/** An item of an {@link InFlightList}: the list's links live on the item itself. */
export interface InFlightLinks<T> {
  previousInFlight: T | undefined;
  nextInFlight: T | undefined;
}

/**
 * The exchanges in flight, as an intrusive doubly linked list: O(1) add and delete with no
 * table behind them. Why not a `Set`: with one `add` and one `delete` per request, every
 * request's objects (request, response, undici's request, the exchange) outlived two
 * scavenges and were promoted to the old generation, about 2 MB per scavenge under load, so
 * scavenges took 5× longer and the heap grew until a full mark-compact (measured with
 * `--trace-gc`, bench/README.md). Here a finished exchange's links are cleared at once, so
 * nothing long-lived points at it.
 *
 * @example
 * ```ts
 * const list = new InFlightList<Exchange>();
 * list.add(exchange);
 * list.delete(exchange);
 * for (const e of list.snapshot()) e.abort('shutdown');
 * ```
 */
export class InFlightList<T extends InFlightLinks<T>> {
  #head: T | undefined = undefined;
  #size = 0;

  /** How many items are in the list. */
  get size(): number {
    return this.#size;
  }

  add(item: T): void {
    if (this.#contains(item)) return;
    item.previousInFlight = undefined;
    item.nextInFlight = this.#head;
    if (this.#head !== undefined) this.#head.previousInFlight = item;
    this.#head = item;
    this.#size++;
  }

  /** Removes `item`; a no-op when it is not in the list. */
  delete(item: T): void {
    if (!this.#contains(item)) return;
    const { previousInFlight: previous, nextInFlight: next } = item;
    if (previous === undefined) this.#head = next;
    else previous.nextInFlight = next;
    if (next !== undefined) next.previousInFlight = previous;
    item.previousInFlight = undefined;
    item.nextInFlight = undefined;
    this.#size--;
  }

  /** The items now, as an array: safe to walk while items leave the list. */
  snapshot(): T[] {
    const items: T[] = [];
    for (let item = this.#head; item !== undefined; item = item.nextInFlight) items.push(item);
    return items;
  }

  #contains(item: T): boolean {
    return item.previousInFlight !== undefined || this.#head === item;
  }
}
