import { closeSync, constants, fsyncSync, openSync, writeSync } from 'node:fs';

/**
 * Creates a new owner-only (0600) file with the given text and flushes it to disk. It never
 * opens an existing file and never follows a planted symlink: either fails with the system's
 * error (`EEXIST`, `ELOOP`), which callers may handle.
 *
 * @example
 * ```ts
 * createPrivateFile('/data/master.key', 'c2VjcmV0...\n');
 * ```
 */
export function createPrivateFile(path: string, text: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
