import type { ParsedCredential } from '../kernel/credential.js';
import type { Denial } from '../kernel/denial.js';
import type { EventBus } from '../kernel/event-bus.js';
import type { Principal } from '../kernel/principal.js';
import { TOPICS } from '../kernel/topics.js';
import type { Store } from '../store/database.js';
import { changeClusterKeys, ensureClusterKeys, readClusterKeys } from './cluster-node-keys.js';
import { type KeyFileContent, removeKeyFile, writeKeyFile } from './node-key-file.js';
import { type NodeKeyState, NodeKeys, type NodeKeyVerifier, type RotatableKey } from './node-keys.js';

/** Where a cluster's node keys live: the shared store, sealed with the master key. */
interface SharedKeys {
  readonly store: Store;
  readonly masterKey: Buffer;
  readonly bus: EventBus;
}

interface KeyOptions {
  readonly path: string;
  readonly expirationMin: number;
  readonly now?: () => number;
}

/**
 * The node keys bound to their key file: generated and written at start (replacing any file a
 * crash left behind), rewritten on every rotation, removed at shutdown.
 *
 * In PostgreSQL mode ({@link startShared}) the keys are the cluster's: stored sealed, the same on
 * every replica, and a renewal on one replica is in force on all (their key files rewritten)
 * before it answers.
 */
export class NodeKeyService implements NodeKeyVerifier {
  private readonly replicas = new Set<(state: NodeKeyState) => Promise<void>>();

  private constructor(
    private keys: NodeKeys,
    private readonly options: KeyOptions,
    private readonly shared?: SharedKeys,
  ) {}

  get path(): string {
    return this.options.path;
  }

  static start(options: KeyOptions): NodeKeyService {
    const keys = NodeKeys.generate(options);
    writeKeyFile(options.path, keys.fileContent);
    return new NodeKeyService(keys, options);
  }

  /**
   * The cluster's keys: the stored ones (keys a previous start left expired are renewed, for the
   * whole cluster), or new ones stored now when this is the first replica. Every renewal by any
   * replica reaches this one through `bus` (`node_keys.rotated`).
   *
   * @throws ModelgateError `CONFIG_INVALID` when the stored keys do not open with this master key.
   */
  static async startShared(options: KeyOptions & SharedKeys): Promise<NodeKeyService> {
    const { store, masterKey, bus } = options;
    const content = await ensureClusterKeys(store, masterKey, NodeKeys.generate(options).fileContent);
    const service = new NodeKeyService(NodeKeys.fromFile(content, options), options, { store, masterKey, bus });
    writeKeyFile(options.path, content);
    // A renewal made here (a seq) is in force here already.
    bus.subscribe((event) =>
      event.topic === TOPICS.nodeKeysRotated && event.seq === undefined ? service.reload() : undefined,
    );
    for (const which of service.keys.expired()) await service.rotate(which);
    return service;
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
   * Token API: a new key and expiry. The file is rewritten and every worker (and in a cluster,
   * every live replica) holds the new state before the answer is given, so the old key is refused
   * everywhere once the caller has the new one.
   */
  async rotate(which: RotatableKey): Promise<{ key: string; expiresAt: string }> {
    if (!this.shared) {
      const result = this.keys.rotate(which);
      await this.install(this.keys);
      return result;
    }
    let result: { key: string; expiresAt: string } | undefined;
    const { content, seq } = await changeClusterKeys(this.shared.store, this.shared.masterKey, (current) => {
      const keys = NodeKeys.fromFile(current, this.options);
      result = keys.rotate(which);
      return keys.fileContent;
    });
    await this.install(NodeKeys.fromFile(content, this.options));
    // The other replicas reload (and acknowledge) before this resolves; see node/cluster.
    await this.shared.bus.publish({ topic: TOPICS.nodeKeysRotated, subject: which, seq });
    return result as { key: string; expiresAt: string };
  }

  removeFile(): void {
    removeKeyFile(this.options.path);
  }

  /** Another replica renewed a key: take the cluster's keys as stored now. */
  private async reload(): Promise<void> {
    if (!this.shared) return;
    const content: KeyFileContent = await readClusterKeys(this.shared.store, this.shared.masterKey);
    await this.install(NodeKeys.fromFile(content, this.options));
  }

  /** Puts keys in force: verified here, written to the key file, handed to every worker. */
  private async install(keys: NodeKeys): Promise<void> {
    this.keys = keys;
    writeKeyFile(this.options.path, keys.fileContent);
    const state = keys.verificationState;
    await Promise.all([...this.replicas].map((replica) => replica(state)));
  }
}
