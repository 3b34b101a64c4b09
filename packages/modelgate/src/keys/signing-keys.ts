import { randomBytes } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { ModelgateError } from '../kernel/errors.js';
import type { EventBus } from '../kernel/event-bus.js';
import { TOPICS } from '../kernel/topics.js';
import { recordChange } from '../store/change-log.js';
import type { Store } from '../store/database.js';
import type { SigningKeysTable } from '../store/schema.js';
import { MASTER_KEY_ENV } from '../store/secrets/master-key.js';
import { open, seal } from '../store/secrets/seal.js';
import { inTransaction, serializeWriters } from '../store/transaction.js';

/** The algorithms a node signs with (config `jwt_signing_algorithm`). */
export type SigningAlgorithm = 'Ed25519' | 'ES256';

/** The JOSE `alg` each key type verifies: one per key, so a token cannot pick another. */
const JOSE_ALG: Record<SigningAlgorithm, string> = { Ed25519: 'EdDSA', ES256: 'ES256' };

/** A public key as the verifier needs it. */
export interface VerificationKey {
  readonly kid: string;
  readonly alg: string;
  readonly key: CryptoKey | Uint8Array;
}

/** The current key, ready to sign. */
export interface SignerKey extends VerificationKey {
  readonly privateKey: CryptoKey | Uint8Array;
}

export interface SigningKeyInfo {
  readonly kid: string;
  readonly alg: string;
  readonly created_at: string;
  readonly retired_at: string | null;
}

export interface SigningKeyRingOptions {
  readonly algorithm: SigningAlgorithm;
  /** `jwt_max_ttl_s`: how long a retired key stays trusted and published. */
  readonly maxTtlS: number;
  /** The clock retirement is decided by (epoch ms); default `Date.now`, tests inject one. */
  readonly now?: () => number;
}

/** How long an unknown `kid` is not asked of the store again. */
const UNKNOWN_KID_COOLDOWN_MS = 1000;

/**
 * The node's platform JWT signing keys. Created at first start; `rotate` makes a new current key
 * and retires the old one, which stays published (and trusted) until every token it could have
 * signed has expired (`retired_at` + `jwt_max_ttl_s`). Private parts are sealed under the master
 * key. Rotations reach every process through the change log.
 */
export class SigningKeyRing {
  /** Every key loaded, with the instant it stops being trusted; filtered by time on each use. */
  private loaded: TrustedKey[] = [];
  /** The JWKS as last computed, and the instant it must be computed again (a key's bound). */
  private jwks: { readonly keys: JWK[]; readonly until: number } = { keys: [], until: 0 };
  private current: SignerKey | undefined;
  private lastMiss = 0;
  private readonly now: () => number;
  /** The last reload asked for; each runs after the one before (see {@link reload}). */
  private reloads: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly masterKey: Buffer,
    private readonly options: SigningKeyRingOptions,
    private readonly bus: EventBus,
  ) {
    this.now = options.now ?? Date.now;
    bus.subscribe((event) => (event.topic === TOPICS.signingKeyRotated ? this.reload() : undefined));
  }

  /**
   * Loads the keys, creating the first one when there is none. Replicas starting at once on one
   * store each try; the database's one-current-key index lets the first insert win.
   */
  async start(): Promise<void> {
    const active = await this.store.db
      .selectFrom('signing_keys')
      .select('kid')
      .where('retired_at', 'is', null)
      .execute();
    if (active.length === 0) await this.insertNew();
    await this.reload();
  }

  /**
   * Makes a new current key and retires the others. Concurrent rotations (on any replica)
   * queue behind each other, so each succeeds and exactly one key is current after them.
   * Every process following this node's bus (its data-plane workers) publishes the new key
   * before this resolves; other replicas within a change-log poll.
   *
   * @returns the new key's kid.
   */
  async rotate(): Promise<string> {
    // One transaction: the retirements, the new key and the change-log row commit together.
    const kid = await inTransaction(this.store, async (tx) => {
      await serializeWriters(tx, 'signing_keys');
      await tx.db
        .updateTable('signing_keys')
        .set({ retired_at: new Date(this.now()).toISOString() })
        .where('retired_at', 'is', null)
        .execute();
      const made = await this.insertNew(tx);
      // Unreachable while the lock holds; never report a rotation that did not happen.
      if (made === undefined) throw new ModelgateError('WRITE_CONFLICT');
      const seq = await recordChange(tx, TOPICS.signingKeyRotated, made);
      return { made, seq };
    });
    // This ring reloads through its own subscription.
    await this.bus.publish({ topic: TOPICS.signingKeyRotated, subject: kid.made, seq: kid.seq });
    return kid.made;
  }

  /** The key new tokens are signed with. */
  signer(): SignerKey {
    if (!this.current) throw new Error('signing keys not loaded');
    return this.current;
  }

  /**
   * The public JWKS document: the current key and retired keys whose tokens may still live, as of
   * now by this ring's clock. Recomputed only when a retired key's bound has passed.
   */
  publicJwks(): { keys: JWK[] } {
    const now = this.now();
    if (now >= this.jwks.until) this.jwks = publishedAt(this.loaded, now);
    return { keys: this.jwks.keys };
  }

  /**
   * Whether the key with this kid is trusted now: current, or retired less than `jwt_max_ttl_s`
   * ago. Synchronous, for verifiers deciding a cached token (its key may have aged out since).
   */
  trusts(kid: string): boolean {
    const key = this.loaded.find((k) => k.kid === kid);
    return key !== undefined && this.now() < key.until;
  }

  /**
   * The trusted key with this kid. A kid this ring knows but no longer trusts is refused at once;
   * an unknown kid asks the store again at most once per cooldown (a rotation on another replica
   * may not have reached this one yet).
   */
  async keyFor(kid: string): Promise<VerificationKey | undefined> {
    const known = this.loaded.find((k) => k.kid === kid);
    if (known) return this.now() < known.until ? known : undefined;
    const now = Date.now();
    if (now - this.lastMiss < UNKNOWN_KID_COOLDOWN_MS) return undefined;
    this.lastMiss = now;
    await this.reload();
    return this.loaded.find((k) => k.kid === kid && this.now() < k.until);
  }

  async list(): Promise<SigningKeyInfo[]> {
    return this.store.db
      .selectFrom('signing_keys')
      .select(['kid', 'alg', 'created_at', 'retired_at'])
      .orderBy('created_at')
      .execute();
  }

  /**
   * Reads the keys again. Reloads run one after another: concurrent rotations each ask for one,
   * and a reload that read the store earlier must not finish later and install an older key.
   */
  private reload(): Promise<void> {
    const run = this.reloads.then(() => this.load());
    this.reloads = run.catch(() => {});
    return run;
  }

  private async load(): Promise<void> {
    const rows = await this.store.db
      .selectFrom('signing_keys')
      .selectAll()
      .orderBy('created_at')
      .orderBy('kid')
      .execute();
    // Keys past their bound are not loaded; the others carry it, and are checked against it on use.
    const live = rows.filter((r) => isPublished(r, this.options.maxTtlS, this.now()));
    const loaded: TrustedKey[] = [];
    for (const row of live) {
      const jwk = JSON.parse(row.public_jwk) as JWK;
      const until = trustedUntil(row, this.options.maxTtlS);
      loaded.push({ kid: row.kid, alg: row.alg, key: await importJWK(jwk, row.alg), jwk, until });
    }
    // The store holds one current key (0007's index); the newest is picked should it ever not.
    const newest = live.filter((r) => r.retired_at === null).at(-1);
    if (newest) {
      const privateJwk = JSON.parse(this.unseal(newest)) as JWK;
      this.current = {
        kid: newest.kid,
        alg: newest.alg,
        key: loaded.find((k) => k.kid === newest.kid)!.key,
        privateKey: await importJWK(privateJwk, newest.alg),
      };
    }
    this.loaded = loaded;
    this.jwks = publishedAt(loaded, this.now());
  }

  private unseal(row: SigningKeysTable): string {
    try {
      return open(this.masterKey, row.private_sealed, sealContext(row.kid));
    } catch {
      throw new ModelgateError(
        'MASTER_KEY_MISMATCH',
        `The signing key ${row.kid} cannot be opened with this master key: this store was sealed under another one; replicas sharing a store must share ${MASTER_KEY_ENV}`,
      );
    }
  }

  /** Inserts a new current key; `undefined` when another is current (a concurrent start won). */
  private async insertNew(store: Store = this.store): Promise<string | undefined> {
    const alg = JOSE_ALG[this.options.algorithm];
    const pair = await generateKeyPair(alg, {
      crv: this.options.algorithm === 'Ed25519' ? 'Ed25519' : 'P-256',
      extractable: true,
    });
    const kid = `sk_${new Date().toISOString().slice(0, 10).replaceAll('-', '')}_${randomBytes(6).toString('hex')}`;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
    const privateJwk = await exportJWK(pair.privateKey);
    const inserted = await store.db
      .insertInto('signing_keys')
      .values({
        kid,
        alg,
        public_jwk: JSON.stringify(publicJwk),
        private_sealed: seal(this.masterKey, JSON.stringify(privateJwk), sealContext(kid)),
        created_at: new Date().toISOString(),
        retired_at: null,
      })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0 ? kid : undefined;
  }
}

/** A loaded key: what verifies, what is published, and until when (epoch ms) it is trusted. */
interface TrustedKey extends VerificationKey {
  readonly jwk: JWK;
  /** `Infinity` while current; `retired_at + jwt_max_ttl_s` once retired. */
  readonly until: number;
}

/**
 * The instant (epoch ms) a key stops being trusted and published: never while it is current,
 * `retired_at + jwt_max_ttl_s` once retired (the last token it can have signed has expired).
 *
 * @example
 * ```ts
 * trustedUntil({ retired_at: '2030-01-01T00:00:00.000Z' }, 3600); // Date.parse('2030-01-01T01:00:00Z')
 * ```
 */
export function trustedUntil(row: Pick<SigningKeysTable, 'retired_at'>, maxTtlS: number): number {
  return row.retired_at === null ? Number.POSITIVE_INFINITY : Date.parse(row.retired_at) + maxTtlS * 1000;
}

/** A key is published while active, and after retirement until its last token has expired. */
export function isPublished(row: Pick<SigningKeysTable, 'retired_at'>, maxTtlS: number, nowMs: number): boolean {
  return trustedUntil(row, maxTtlS) > nowMs;
}

/** The JWKS of the keys trusted at `now`, and the next instant one of them stops being trusted. */
function publishedAt(keys: readonly TrustedKey[], now: number): { keys: JWK[]; until: number } {
  const trusted = keys.filter((k) => now < k.until);
  return { keys: trusted.map((k) => k.jwk), until: Math.min(...trusted.map((k) => k.until)) };
}

function sealContext(kid: string): string {
  return `signing_key:${kid}`;
}
