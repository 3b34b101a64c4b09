import type { ParsedCredential } from '../kernel/credential.js';
import type { Denial } from '../kernel/denial.js';
import type { Principal } from '../kernel/principal.js';
import { removeKeyFile, writeKeyFile } from './node-key-file.js';
import { type NodeKeyState, NodeKeys, type NodeKeyVerifier, type RotatableKey } from './node-keys.js';

/**
 * The node keys bound to their key file: generated and written at start (replacing any file a
 * crash left behind), rewritten on every rotation, removed at shutdown.
 */
export class NodeKeyService implements NodeKeyVerifier {
  private readonly replicas = new Set<(state: NodeKeyState) => Promise<void>>();

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

  /** What the workers of a multi-process node verify against (hashes and expiries). */
  get verificationState(): NodeKeyState {
    return this.keys.verificationState;
  }

  /** Called on every rotation; the rotation answers only once every listener has settled. */
  onRotate(listener: (state: NodeKeyState) => Promise<void>): void {
    this.replicas.add(listener);
  }

  /**
   * Token API: a new key and expiry. The file is rewritten and every worker holds the new state
   * before the answer is given, so the old key is refused everywhere once the caller has the new one.
   */
  async rotate(which: RotatableKey): Promise<{ key: string; expiresAt: string }> {
    const result = this.keys.rotate(which);
    writeKeyFile(this.path, this.keys.fileContent);
    const state = this.keys.verificationState;
    await Promise.all([...this.replicas].map((replica) => replica(state)));
    return result;
  }

  removeFile(): void {
    removeKeyFile(this.path);
  }
}
