import { ModelgateError } from '../kernel/errors.js';
import { TOPICS } from '../kernel/topics.js';
import { recordChange } from '../store/change-log.js';
import type { Store } from '../store/database.js';
import { MASTER_KEY_ENV } from '../store/secrets/master-key.js';
import { open, seal } from '../store/secrets/seal.js';
import { inTransaction, lockForUpdate } from '../store/transaction.js';
import type { KeyFileContent } from './node-key-file.js';

/**
 * The cluster's one set of node keys in PostgreSQL mode: one row, the key file's content sealed
 * with the master key, so every replica accepts (and writes in its `key_file.json`) the same
 * management, inference and API keys.
 */

const ROW = 'node';
const CONTEXT = 'cluster_node_keys';

/**
 * The cluster's keys: the stored ones, or `candidate` stored now when there are none yet (the
 * first replica to start wins; the others read its keys).
 *
 * @throws ModelgateError `CONFIG_INVALID` when the stored keys do not open with this master key.
 */
export async function ensureClusterKeys(
  store: Store,
  masterKey: Buffer,
  candidate: KeyFileContent,
): Promise<KeyFileContent> {
  await store.db
    .insertInto('cluster_node_keys')
    .values({
      id: ROW,
      sealed: seal(masterKey, JSON.stringify(candidate), CONTEXT),
      updated_at: new Date().toISOString(),
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  return readClusterKeys(store, masterKey);
}

/** The cluster's keys as stored now. */
export async function readClusterKeys(store: Store, masterKey: Buffer): Promise<KeyFileContent> {
  const row = await lockForUpdate(
    store,
    store.db.selectFrom('cluster_node_keys').select('sealed').where('id', '=', ROW),
  ).executeTakeFirst();
  if (!row) throw new ModelgateError('STORE_UNAVAILABLE', 'The cluster node keys are missing from the store');
  try {
    return JSON.parse(open(masterKey, row.sealed, CONTEXT)) as KeyFileContent;
  } catch {
    throw new ModelgateError(
      'MASTER_KEY_MISMATCH',
      `The cluster's node keys cannot be opened with this master key: this store was sealed under another one; replicas sharing a store must share ${MASTER_KEY_ENV}`,
    );
  }
}

/**
 * Replaces the cluster's keys with `change(current)` in one transaction (concurrent renewals on
 * two replicas queue on the row), and records the change for every replica.
 *
 * @returns the new content and the change's id (the event's `seq`).
 */
export async function changeClusterKeys(
  store: Store,
  masterKey: Buffer,
  change: (current: KeyFileContent) => KeyFileContent,
): Promise<{ content: KeyFileContent; seq: number }> {
  return inTransaction(store, async (tx) => {
    const content = change(await readClusterKeys(tx, masterKey));
    await tx.db
      .updateTable('cluster_node_keys')
      .set({ sealed: seal(masterKey, JSON.stringify(content), CONTEXT), updated_at: new Date().toISOString() })
      .where('id', '=', ROW)
      .execute();
    const seq = await recordChange(tx, TOPICS.nodeKeysRotated, ROW);
    return { content, seq };
  });
}
