import { describe, expect, it } from 'vitest';
import { type InFlightLinks, InFlightList } from '../src/dataplane/in-flight.js';

class Item implements InFlightLinks<Item> {
  previousInFlight: Item | undefined = undefined;
  nextInFlight: Item | undefined = undefined;
  constructor(readonly name: string) {}
}

describe('InFlightList', () => {
  it('counts, removes from any position and lists what is left', () => {
    const list = new InFlightList<Item>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Item(n)) as [Item, Item, Item, Item];
    for (const item of [a, b, c, d]) list.add(item);
    expect(list.size).toBe(4);
    list.delete(c); // middle
    list.delete(d); // head (the newest)
    list.delete(a); // tail
    expect(list.snapshot().map((i) => i.name)).toEqual(['b']);
    expect(list.size).toBe(1);
    list.delete(b);
    expect(list.snapshot()).toEqual([]);
    expect(list.size).toBe(0);
  });

  it('ignores a second add or delete of the same item', () => {
    const list = new InFlightList<Item>();
    const a = new Item('a');
    const b = new Item('b');
    list.add(a);
    list.add(b);
    list.add(a);
    expect(list.size).toBe(2);
    list.delete(a);
    list.delete(a);
    expect(list.size).toBe(1);
    expect(list.snapshot().map((i) => i.name)).toEqual(['b']);
    // A removed item holds no links, so nothing it pointed to is kept alive through it.
    expect(a.nextInFlight).toBeUndefined();
    expect(a.previousInFlight).toBeUndefined();
  });

  it('lets items leave while a snapshot is walked (shutdown aborts every exchange)', () => {
    const list = new InFlightList<Item>();
    const items = ['a', 'b', 'c'].map((n) => new Item(n));
    for (const item of items) list.add(item);
    const seen: string[] = [];
    for (const item of list.snapshot()) {
      seen.push(item.name);
      list.delete(item);
    }
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(0);
  });
});
