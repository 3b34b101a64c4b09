import { rmSync } from 'node:fs';
import { replacePrivateFile } from '../store/secrets/private-file.js';

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
  replacePrivateFile(path, `${JSON.stringify(content, null, 2)}\n`);
}

/** Removes the key file; a missing file is fine. */
export function removeKeyFile(path: string): void {
  rmSync(path, { force: true });
}
