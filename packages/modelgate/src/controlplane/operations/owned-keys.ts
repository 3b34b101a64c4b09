import { TOPICS } from '../../kernel/topics.js';
import { deleteCredentialUsage } from '../../store/credential-usage.js';
import type { ApiKeysTable } from '../../store/schema.js';
import { announce, type ControlContext } from './context.js';

/**
 * Deletes every API key of an owner that is being deleted (call inside its `transact`), and
 * announces each, so no cache keeps one alive.
 */
export async function deleteOwnedKeys(
  tx: ControlContext,
  ownerType: ApiKeysTable['owner_type'],
  ownerId: string,
): Promise<void> {
  const keys = await tx.store.db
    .deleteFrom('api_keys')
    .where('owner_type', '=', ownerType)
    .where('owner_id', '=', ownerId)
    .returning('id')
    .execute();
  for (const key of keys) {
    await deleteCredentialUsage(tx.store, 'api_key', key.id);
    await announce(tx, TOPICS.apiKeyDeleted, key.id);
  }
}
