import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createPrivateFile } from '../../secrets/private-file.js';

/** TorchServe's `key_file.json` shape. */
export interface KeyFileContent {
  readonly management: { readonly key: string; readonly 'expiration time': string };
  readonly inference: { readonly key: string; readonly 'expiration time': string };
  readonly API: { readonly key: string };
}

/**
 * Writes the key file atomically: a fresh temp file created exclusively with mode 0600 (never
 * following a planted symlink), fsynced, then renamed over the old one.
 */
export function writeKeyFile(path: string, content: KeyFileContent): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  createPrivateFile(tmp, `${JSON.stringify(content, null, 2)}\n`);
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Removes the key file; a missing file is fine. */
export function removeKeyFile(path: string): void {
  rmSync(path, { force: true });
}
