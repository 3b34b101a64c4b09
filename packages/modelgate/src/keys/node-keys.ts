import {
  type CredentialKind,
  generateCredential,
  hashCredential,
  type ParsedCredential,
  sameDigest,
} from '../kernel/credential.js';
import { type Denial, deny } from '../kernel/denial.js';
import type { Principal } from '../kernel/principal.js';
import type { KeyFileContent } from './node-key-file.js';

export type RotatableKey = 'management' | 'inference';

interface KeyState {
  readonly hash: string;
  /** Epoch ms; undefined for the API key, which does not expire. */
  readonly expiresAt?: number;
}

/**
 * What verifying node keys takes: hashes and expiries only, never a plain key. Plain data, so
 * the primary of a multi-process node can hand it to its workers.
 */
export type NodeKeyState = Readonly<Record<RotatableKey | 'API', KeyState>>;

/** Something that verifies node keys: the node's own keys, or a worker's copy of their state. */
export interface NodeKeyVerifier {
  verify(credential: ParsedCredential): Principal | Denial;
}

/**
 * TorchServe's three node keys, held as hashes. The plain keys exist only in what `generate`
 * and `rotate` return, for the key file.
 *
 * @example
 * ```ts
 * const keys = NodeKeys.generate({ expirationMin: 60 });
 * writeKeyFile('key_file.json', keys.initialFile);
 * keys.verify(parseCredential(token)!); // Principal or Denial
 * ```
 */
export class NodeKeys {
  private readonly state: Record<RotatableKey | 'API', KeyState>;
  private file: KeyFileContent;

  private constructor(
    private readonly expirationMs: number,
    private readonly now: () => number,
    file?: KeyFileContent,
  ) {
    if (file) {
      // Keys made elsewhere (the cluster's, from the store): verified by their hashes and expiries.
      this.file = file;
      this.state = {
        management: {
          hash: hashCredential(file.management.key),
          expiresAt: Date.parse(file.management['expiration time']),
        },
        inference: {
          hash: hashCredential(file.inference.key),
          expiresAt: Date.parse(file.inference['expiration time']),
        },
        API: { hash: hashCredential(file.API.key) },
      };
      return;
    }
    const management = this.fresh('management_key');
    const inference = this.fresh('inference_key');
    const api = generateCredential('token_api_key');
    this.state = {
      management: management.state,
      inference: inference.state,
      API: { hash: hashCredential(api) },
    };
    this.file = {
      management: { key: management.key, 'expiration time': iso(management.state.expiresAt!) },
      inference: { key: inference.key, 'expiration time': iso(inference.state.expiresAt!) },
      API: { key: api },
    };
  }

  static generate(options: { expirationMin: number; now?: () => number }): NodeKeys {
    return new NodeKeys(options.expirationMin * 60_000, options.now ?? Date.now);
  }

  /** Keys from a key file's content (a cluster's keys, read from the store). */
  static fromFile(file: KeyFileContent, options: { expirationMin: number; now?: () => number }): NodeKeys {
    return new NodeKeys(options.expirationMin * 60_000, options.now ?? Date.now, file);
  }

  /** The rotatable keys that have expired by now (a cluster renews them when a replica starts). */
  expired(): RotatableKey[] {
    const now = this.now();
    return (['management', 'inference'] as const).filter((k) => (this.state[k].expiresAt ?? Infinity) <= now);
  }

  /** What the key file must contain now. */
  get fileContent(): KeyFileContent {
    return this.file;
  }

  /**
   * Replaces one key with a new one and a renewed expiry; the old key stops working at once.
   * @returns the new key and its expiry, for the token API's answer.
   */
  rotate(which: RotatableKey): { key: string; expiresAt: string } {
    const next = this.fresh(which === 'management' ? 'management_key' : 'inference_key');
    this.state[which] = next.state;
    const entry = { key: next.key, 'expiration time': iso(next.state.expiresAt!) };
    this.file = { ...this.file, [which]: entry };
    return { key: next.key, expiresAt: entry['expiration time'] };
  }

  /** Verifies a node key (management, inference or API) in constant time. */
  verify(credential: ParsedCredential): Principal | Denial {
    return verifyNodeKey(this.state, credential, this.now());
  }

  /** A copy of what verification needs (hashes and expiries), for the workers. */
  get verificationState(): NodeKeyState {
    return { ...this.state };
  }

  private fresh(kind: CredentialKind): { key: string; state: KeyState } {
    const key = generateCredential(kind);
    return { key, state: { hash: hashCredential(key), expiresAt: this.now() + this.expirationMs } };
  }
}

/**
 * A worker's view of the node keys: the primary's hashes and expiries, replaced on rotation.
 */
export class NodeKeyReplica implements NodeKeyVerifier {
  constructor(
    private state: NodeKeyState,
    private readonly now: () => number = Date.now,
  ) {}

  update(state: NodeKeyState): void {
    this.state = state;
  }

  verify(credential: ParsedCredential): Principal | Denial {
    return verifyNodeKey(this.state, credential, this.now());
  }
}

/** The decision for one node key against a state: pure. */
function verifyNodeKey(state: NodeKeyState, credential: ParsedCredential, now: number): Principal | Denial {
  const slot = SLOT_BY_KIND[credential.kind];
  if (!slot) return deny('unknown');
  const key = state[slot];
  if (!sameDigest(credential.hash, key.hash)) return deny('unknown');
  if (key.expiresAt !== undefined && now >= key.expiresAt) {
    return deny('expired', `The ${slot} key has expired; get a new one from the token API`);
  }
  return PRINCIPALS[slot];
}

/** One principal object per node key, so a verification allocates nothing. */
const PRINCIPALS: Readonly<Record<RotatableKey | 'API', Principal>> = {
  management: Object.freeze({ kind: 'management_key', id: 'node:management' }),
  inference: Object.freeze({ kind: 'inference_key', id: 'node:inference' }),
  API: Object.freeze({ kind: 'token_api_key', id: 'node:API' }),
};

const SLOT_BY_KIND: Partial<Record<CredentialKind, RotatableKey | 'API'>> = {
  management_key: 'management',
  inference_key: 'inference',
  token_api_key: 'API',
};

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
