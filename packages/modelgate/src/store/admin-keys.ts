import type { Store } from './database.js';
import type { AdminKeysTable } from './schema.js';

export type AdminKeyRow = AdminKeysTable;

export async function insertAdminKey(store: Store, row: AdminKeyRow): Promise<void> {
  await store.db.insertInto('admin_keys').values(row).execute();
}

export async function listAdminKeys(store: Store): Promise<AdminKeyRow[]> {
  return store.db.selectFrom('admin_keys').selectAll().orderBy('created_at').orderBy('id').execute();
}

export async function findAdminKeyByHash(store: Store, hash: string): Promise<AdminKeyRow | undefined> {
  return store.db.selectFrom('admin_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
}

export async function findAdminKeyById(store: Store, id: string): Promise<AdminKeyRow | undefined> {
  return store.db.selectFrom('admin_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

/** @returns whether a row was deleted. */
export async function deleteAdminKeyRow(store: Store, id: string): Promise<boolean> {
  const result = await store.db.deleteFrom('admin_keys').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function touchAdminKey(store: Store, id: string, at: string): Promise<void> {
  await store.db.updateTable('admin_keys').set({ last_used_at: at }).where('id', '=', id).execute();
}
