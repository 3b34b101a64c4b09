import type { SelectQueryBuilder } from 'kysely';
import { notFound } from '../../kernel/validation.js';
import type { Database } from '../../store/schema.js';
import { lockForUpdate } from '../../store/transaction.js';
import type { ControlContext } from './context.js';

/** The tables whose rows people name, and the column that holds the name. */
const NAME_COLUMN = { users: 'username', groups: 'name', services: 'name', infrastructures: 'name' } as const;
export type NamedTable = keyof typeof NAME_COLUMN;

/** What a missing row is called in its 404 (`No user named "x"`). */
const WHAT: Record<NamedTable, string> = {
  users: 'user',
  groups: 'group',
  services: 'service',
  infrastructures: 'infrastructure',
};

/**
 * The row a name names, or the one RESOURCE_NOT_FOUND every route answers for a missing (or
 * hidden) name. With `lock`, inside `transact` the row stays locked until commit (PostgreSQL), so
 * a change written for it cannot interleave with its delete.
 *
 * @example
 * ```ts
 * const group = await rowByName(tx, 'groups', 'ops', { lock: true });
 * ```
 */
export async function rowByName<T extends NamedTable>(
  ctx: ControlContext,
  table: T,
  name: string,
  options: { readonly lock?: boolean } = {},
): Promise<Database[T]> {
  // One query shape for the four tables; kysely cannot type a table chosen at run time.
  const query = ctx.store.db
    .selectFrom(table as 'groups')
    .selectAll()
    .where(NAME_COLUMN[table] as 'name', '=', name) as unknown as SelectQueryBuilder<Database, T, Database[T]>;
  const row = await (options.lock ? lockForUpdate(ctx.store, query) : query).executeTakeFirst();
  if (!row) throw notFound(WHAT[table], name);
  return row as Database[T];
}
