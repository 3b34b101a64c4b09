import type { Logger } from 'pino';

/**
 * Changes the level of a logger and of every child made from it. pino copies the level into a
 * child when the child is made, so the long-lived children (one per listener) would keep the
 * old level: pass {@link LevelControl.track} as `createLogger`'s `onChild` and they are followed
 * (weakly: per-request children are not kept alive).
 *
 * @example
 * ```ts
 * const levels = new LevelControl();
 * const log = createLogger({ level: 'info', onChild: levels.track });
 * levels.set(log, 'debug'); // the root and every live child
 * ```
 */
export class LevelControl {
  private readonly children = new Set<WeakRef<Logger>>();
  private pruneAt = 64;

  readonly track = (child: Logger): void => {
    this.children.add(new WeakRef(child));
    if (this.children.size >= this.pruneAt) {
      this.prune();
      this.pruneAt = Math.max(64, this.children.size * 2);
    }
  };

  /** Sets `level` on `root` and on every child still alive. */
  set(root: Logger, level: string): void {
    root.level = level;
    for (const ref of this.children) {
      const child = ref.deref();
      if (child) child.level = level;
    }
    this.prune();
  }

  private prune(): void {
    for (const ref of this.children) if (ref.deref() === undefined) this.children.delete(ref);
  }
}
