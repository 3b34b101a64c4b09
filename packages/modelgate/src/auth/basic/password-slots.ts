/**
 * The node-wide cap on concurrent password checks (scrypt is slow on purpose, so a flood of
 * unknown guesses must not starve the thread pool). In-process it is a counter; a worker of a
 * multi-process node asks the primary, so the cap holds for the node, not per process.
 */
export interface PasswordSlots {
  /** Takes a slot: false when the cap is reached (the check is then refused, 429). */
  acquire(): boolean | Promise<boolean>;
  release(): void;
}

/** The in-process cap. */
export class LocalPasswordSlots implements PasswordSlots {
  private inFlight = 0;

  constructor(private readonly max = 16) {}

  acquire(): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight++;
    return true;
  }

  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }
}
