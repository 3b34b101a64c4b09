import { RESOURCE_COLLECTIONS, type ResourceType, RIGHTS_BY_TYPE } from '../../kernel/permissions.js';
import { TOPICS } from '../../kernel/topics.js';
import { notFound, Problems } from '../../kernel/validation.js';
import { announce, type ControlContext } from './context.js';
import { getGroupRow } from './groups.js';
import { transact } from './transaction.js';

/** One group's rights on one resource. */
export interface GrantInfo {
  readonly group: string;
  readonly rights: readonly string[];
}

/** The id of a named resource, or the ordinary "does not exist" error. */
export async function resourceId(ctx: ControlContext, type: ResourceType, name: string): Promise<string> {
  const row = await ctx.store.db
    .selectFrom(RESOURCE_COLLECTIONS[type] as 'services')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) throw notFound(type, name);
  return row.id;
}

/** Validates a list of rights for a resource type (400 naming the allowed ones). */
export function checkRights(type: ResourceType, rights: unknown): string[] {
  const allowed = RIGHTS_BY_TYPE[type];
  const problems = new Problems();
  problems.check(
    Array.isArray(rights) && rights.length > 0 && rights.every((r) => allowed.includes(r as string)),
    `rights must be a non-empty list of ${allowed.join(', ')}`,
    'rights',
  );
  problems.throwIfAny();
  return [...new Set(rights as string[])];
}

/**
 * Grants a group exactly these rights on a resource (PUT: replaces what it had). One upsert, so
 * parallel PUTs are idempotent successes (the last one wins), never a duplicate-key conflict.
 */
export async function setGrant(
  ctx: ControlContext,
  type: ResourceType,
  name: string,
  group: string,
  rights: unknown,
): Promise<GrantInfo> {
  const checked = checkRights(type, rights);
  await transact(ctx, async (tx) => {
    const [id, g] = await Promise.all([resourceId(tx, type, name), getGroupRow(tx, group)]);
    await tx.store.db
      .insertInto('grants')
      .values({ resource_type: type, resource_id: id, group_id: g.id, rights: JSON.stringify(checked) })
      .onConflict((oc) =>
        oc
          .columns(['resource_type', 'resource_id', 'group_id'])
          .doUpdateSet({ rights: (eb) => eb.ref('excluded.rights') }),
      )
      .execute();
    await announce(tx, TOPICS.accessChanged, '*');
  });
  return { group, rights: checked };
}

/** Takes a group's rights on a resource away; in force on the next request everywhere. */
export async function removeGrant(ctx: ControlContext, type: ResourceType, name: string, group: string) {
  await transact(ctx, async (tx) => {
    const [id, g] = await Promise.all([resourceId(tx, type, name), getGroupRow(tx, group)]);
    const result = await tx.store.db
      .deleteFrom('grants')
      .where('resource_type', '=', type)
      .where('resource_id', '=', id)
      .where('group_id', '=', g.id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`grant on ${type} "${name}" to group`, group);
    await announce(tx, TOPICS.accessChanged, '*');
  });
}

export async function listGrants(ctx: ControlContext, type: ResourceType, name: string): Promise<GrantInfo[]> {
  const id = await resourceId(ctx, type, name);
  const rows = await ctx.store.db
    .selectFrom('grants')
    .innerJoin('groups', 'groups.id', 'grants.group_id')
    .select(['groups.name as group', 'grants.rights as rights'])
    .where('grants.resource_type', '=', type)
    .where('grants.resource_id', '=', id)
    .orderBy('groups.name')
    .execute();
  return rows.map((r) => ({ group: r.group, rights: JSON.parse(r.rights) as string[] }));
}

/** Records the creator of a service or secret as its owner (every right on it). */
export async function setOwner(ctx: ControlContext, type: 'service' | 'secret', name: string, userId: string) {
  const id = await resourceId(ctx, type, name);
  await ctx.store.db.insertInto('owners').values({ resource_type: type, resource_id: id, user_id: userId }).execute();
  await announce(ctx, TOPICS.accessChanged, userId);
}

/**
 * Creates a service or secret with `create` and records `ownerId` (when a user made it) as its
 * owner, in one transaction: a resource never exists without the owner its creator is promised.
 */
export async function createOwned<T>(
  ctx: ControlContext,
  type: 'service' | 'secret',
  name: string,
  ownerId: string | undefined,
  create: (tx: ControlContext) => Promise<T>,
): Promise<T> {
  return transact(ctx, async (tx) => {
    const made = await create(tx);
    if (ownerId !== undefined) await setOwner(tx, type, name, ownerId);
    return made;
  });
}

/** The owner's username, or null (made by a key, or its user was deleted). */
export async function ownerOf(ctx: ControlContext, type: 'service' | 'secret', name: string): Promise<string | null> {
  const id = await resourceId(ctx, type, name);
  const row = await ctx.store.db
    .selectFrom('owners')
    .innerJoin('users', 'users.id', 'owners.user_id')
    .select('users.username')
    .where('owners.resource_type', '=', type)
    .where('owners.resource_id', '=', id)
    .executeTakeFirst();
  return row?.username ?? null;
}

/**
 * Deletes a resource with `remove` and its grants and owner, in one transaction (`remove` gets
 * the transaction's context and must use it). When `remove` refuses (in use), nothing changes.
 */
export async function deleteWithGrants(
  ctx: ControlContext,
  type: ResourceType,
  name: string,
  remove: (tx: ControlContext) => Promise<void>,
): Promise<void> {
  await transact(ctx, async (tx) => {
    const row = await tx.store.db
      .selectFrom(RESOURCE_COLLECTIONS[type] as 'services')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    await remove(tx);
    if (!row) return;
    await tx.store.db
      .deleteFrom('grants')
      .where('resource_type', '=', type)
      .where('resource_id', '=', row.id)
      .execute();
    await tx.store.db.deleteFrom('owners').where('resource_id', '=', row.id).execute();
    await announce(tx, TOPICS.accessChanged, '*');
  });
}
