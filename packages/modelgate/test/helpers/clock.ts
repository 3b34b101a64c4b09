/** A clock a test moves forward by hand, for `startTestNode(…, { clock: clock.now })`. */
export interface TestClock {
  /** Epoch ms: real time plus everything `advance` added. */
  readonly now: () => number;
  /** Moves the clock forward by `ms` (what a test would otherwise sleep for). */
  advance(ms: number): void;
  /** Moves the clock to `ms` (epoch ms), forward or back, e.g. just past a computed bound. */
  at(ms: number): void;
}

/**
 * Real time plus an offset, starting at `Date.now()`. It keeps running rather than standing
 * still because what the node is given to check was stamped by real clocks (an external
 * provider's `iat`/`exp`, the store's timestamps): the node's time must never fall behind those.
 *
 * @example
 * ```ts
 * const clock = testClock();
 * const t = await startTestNode({}, {}, { clock: clock.now });
 * clock.advance(2_000); // the node now lives two seconds ahead
 * ```
 */
export function testClock(): TestClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms;
    },
    at(ms) {
      offset = ms - Date.now();
    },
  };
}
