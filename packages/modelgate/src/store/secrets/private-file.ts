import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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

/**
 * Replaces `path` atomically with an owner-only (0600) file holding `text`: a fresh temp file
 * beside it, created exclusively (never following a planted symlink) and fsynced, then renamed
 * over the old one. A reader sees the old content or the new, never half of it.
 *
 * @example
 * ```ts
 * replacePrivateFile('key_file.json', `${JSON.stringify(keys, null, 2)}\n`);
 * ```
 */
export function replacePrivateFile(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  createPrivateFile(tmp, text);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
