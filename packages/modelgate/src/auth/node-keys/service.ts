import type { ParsedCredential } from '../credential.js';
import type { Denial } from '../denial.js';
import type { Principal } from '../principal.js';
import { removeKeyFile, writeKeyFile } from './key-file.js';
import { NodeKeys, type RotatableKey } from './node-keys.js';

/**
 * The node keys bound to their key file: generated and written at start (replacing any file a
 * crash left behind), rewritten on every rotation, removed at shutdown.
 */
export class NodeKeyService {
  private constructor(
    private readonly keys: NodeKeys,
    readonly path: string,
  ) {}

  static start(options: { path: string; expirationMin: number; now?: () => number }): NodeKeyService {
    const keys = NodeKeys.generate(options);
    writeKeyFile(options.path, keys.fileContent);
    return new NodeKeyService(keys, options.path);
  }

  verify(credential: ParsedCredential): Principal | Denial {
    return this.keys.verify(credential);
  }

  /** Token API: a new key and expiry; the file is rewritten before the answer is given. */
  rotate(which: RotatableKey): { key: string; expiresAt: string } {
    const result = this.keys.rotate(which);
    writeKeyFile(this.path, this.keys.fileContent);
    return result;
  }

  removeFile(): void {
    removeKeyFile(this.path);
  }
}
