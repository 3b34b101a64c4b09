import { RevocableCache } from '../kernel/cache.js';
import {
  displayPrefix,
  generateCredential,
  type ParsedCredential,
  parseCredential,
  randomBase62,
} from '../kernel/credential.js';
import { type Denial, deny } from '../kernel/denial.js';
import { ModelgateError } from '../kernel/errors.js';
import type { EventBus } from '../kernel/event-bus.js';
import type { Principal } from '../kernel/principal.js';
import { TOPICS } from '../kernel/topics.js';
import {
  type AdminKeyRow,
  deleteAdminKeyRow,
  findAdminKeyByHash,
  findAdminKeyById,
  insertAdminKey,
  listAdminKeys,
  touchAdminKey,
} from '../store/admin-keys.js';
import { recordChange } from '../store/change-log.js';
import type { Store } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';

/** An admin key as lists show it: never the key itself. */
export type AdminKeyInfo = Omit<AdminKeyRow, 'hash'>;

/**
 * Creates an admin key (Dataiku's `apinode-admin admin-key-create`). The plain key is in the
 * result only; the store keeps its SHA-256.
 *
 * @example
 * ```ts
 * const { key } = await createAdminKey(store, 'ci pipeline');
 * ```
 */
export async function createAdminKey(store: Store, description = ''): Promise<AdminKeyInfo & { key: string }> {
  const key = generateCredential('admin_key');
  const row: AdminKeyRow = {
    id: `ak_${randomBase62(12)}`,
    prefix: displayPrefix(key),
    hash: parseCredential(key)!.hash,
    description,
    created_at: new Date().toISOString(),
    last_used_at: null,
  };
  await insertAdminKey(store, row);
  const { hash: _hash, ...info } = row;
  return { ...info, key };
}

export async function listAdminKeyInfos(store: Store): Promise<AdminKeyInfo[]> {
  return (await listAdminKeys(store)).map(({ hash: _hash, ...info }) => info);
}

/**
 * Deletes an admin key named by the key itself or by its id, and records the change so every
 * running server evicts it from its cache.
 */
export async function deleteAdminKey(store: Store, keyOrId: string): Promise<AdminKeyInfo> {
  const parsed = parseCredential(keyOrId);
  // One transaction: a key deleted without its change-log row would stay cached by running nodes.
  const row = await inTransaction(store, async (tx) => {
    const found =
      parsed?.kind === 'admin_key' ? await findAdminKeyByHash(tx, parsed.hash) : await findAdminKeyById(tx, keyOrId);
    if (!found || !(await deleteAdminKeyRow(tx, found.id))) {
      throw new ModelgateError('RESOURCE_NOT_FOUND', 'No such admin key');
    }
    await recordChange(tx, TOPICS.adminKeyDeleted, found.id);
    return found;
  });
  const { hash: _hash, ...info } = row;
  return info;
}

/**
 * Verifies admin keys: the store is read once per key, then the answer is cached by hash until
 * a deletion event evicts it.
 */
export class AdminKeyVerifier {
  private readonly known: RevocableCache<{ id: string }>;
  private readonly lastTouched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    bus: EventBus,
  ) {
    this.known = new RevocableCache<{ id: string }>(10_000, bus, TOPICS.adminKeyDeleted);
  }

  async verify(credential: ParsedCredential): Promise<Principal | Denial> {
    const entry = await this.known.get(credential.hash, async () => {
      const row = await findAdminKeyByHash(this.store, credential.hash);
      return row && { id: row.id };
    });
    if (!entry) return deny('unknown');
    this.noteUse(entry.id);
    return { kind: 'admin_key', id: entry.id };
  }

  /** Records `last_used_at` at most once a minute per key, off the request path. */
  private noteUse(id: string): void {
    const now = Date.now();
    if ((this.lastTouched.get(id) ?? 0) > now - 60_000) return;
    this.lastTouched.set(id, now);
    touchAdminKey(this.store, id, new Date(now).toISOString()).catch(() => {});
  }
}
