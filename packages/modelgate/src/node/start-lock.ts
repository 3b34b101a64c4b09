import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { ModelgateError } from '../kernel/errors.js';

/** A held start lock; `release` removes it if it is still ours. Idempotent. */
export interface StartLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the start lock beside `key_file.json` (`<key_file>.lock`, holding this process's pid), so
 * a second node started in the same directory refuses to start instead of overwriting, and on
 * exit deleting, the first node's keys. A lock whose pid is not alive (a crash) is taken over.
 *
 * @throws ModelgateError `NODE_RUNNING` (exit 1) naming the live pid and the lock file.
 *
 * @example
 * ```ts
 * const lock = acquireStartLock(resolve(config.key_file));
 * // ... run the node ...
 * lock.release();
 * ```
 */
export function acquireStartLock(keyFile: string, pid: number = process.pid): StartLock {
  const path = `${keyFile}.lock`;
  // Two attempts: the second after clearing a stale lock (another starter may win that race).
  for (let attempt = 0; attempt < 2; attempt++) {
    const fd = tryCreate(path);
    if (fd !== undefined) {
      try {
        writeSync(fd, `${pid}\n`);
      } finally {
        closeSync(fd);
      }
      return heldLock(path, pid);
    }
    const holder = readHolder(path);
    if (holder !== undefined && holder !== pid && isAlive(holder)) {
      throw new ModelgateError(
        'NODE_RUNNING',
        `another modelgate node (pid ${holder}) uses ${keyFile}; stop it, or start this one in another directory ` +
          `or with another --key-file. If no modelgate runs as pid ${holder}, delete ${path}`,
      );
    }
    rmSync(path, { force: true });
  }
  throw new ModelgateError('NODE_RUNNING', `another modelgate node is starting with ${keyFile} (lock ${path})`);
}

function tryCreate(path: string): number | undefined {
  try {
    return openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
}

/** The pid in a lock file; undefined when unreadable or not a pid (a torn write counts as stale). */
function readHolder(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function heldLock(path: string, pid: number): StartLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Only our own lock: a node that took over after we were presumed dead keeps its lock.
      if (readHolder(path) === pid) rmSync(path, { force: true });
    },
  };
}
