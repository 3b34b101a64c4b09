import { GLOBAL_PRIVILEGES, type GlobalPrivilege } from '../../kernel/permissions.js';
import { TOPICS } from '../../kernel/topics.js';
import { checkName, conflict, newId, notFound, Problems } from '../../kernel/validation.js';
import type { GroupsTable } from '../../store/schema.js';
import type { ControlContext } from './context.js';
import { announce, nowIso } from './context.js';
import { rowByName } from './rows.js';
import { transact } from './transaction.js';

/** A group as the API shows it (D2): its global privileges and members. */
export interface GroupInfo {
  readonly name: string;
  readonly privileges: readonly GlobalPrivilege[];
  readonly members: readonly string[];
  readonly created_at: string;
}

function checkPrivileges(problems: Problems, privileges: unknown): void {
  problems.check(
    privileges === undefined ||
      (Array.isArray(privileges) && privileges.every((p) => GLOBAL_PRIVILEGES.includes(p as GlobalPrivilege))),
    `privileges must be a list of ${GLOBAL_PRIVILEGES.join(', ')}`,
    'privileges',
  );
}

export async function createGroup(
  ctx: ControlContext,
  input: { name: string; privileges?: readonly GlobalPrivilege[] },
): Promise<GroupInfo> {
  const problems = new Problems();
  checkName(problems, 'name', input.name);
  checkPrivileges(problems, input.privileges);
  problems.throwIfAny();
  // A parallel create of the same name that passes the check loses on the unique index: 409.
  return transact(ctx, async (tx) => {
    if (await findGroup(tx, input.name)) throw conflict('group', input.name);
    const row: GroupsTable = {
      id: newId('grp'),
      name: input.name,
      privileges: JSON.stringify([...new Set(input.privileges ?? [])]),
      created_at: nowIso(),
    };
    await tx.store.db.insertInto('groups').values(row).execute();
    return describe(tx, row);
  });
}

/** Replaces a group's global privileges; in force on the next request (nothing is cached). */
export async function setGroupPrivileges(
  ctx: ControlContext,
  name: string,
  privileges: readonly GlobalPrivilege[],
): Promise<GroupInfo> {
  const problems = new Problems();
  checkPrivileges(problems, privileges);
  problems.throwIfAny();
  return transact(ctx, async (tx) => {
    const row = await getGroupRow(tx, name);
    const next = { ...row, privileges: JSON.stringify([...new Set(privileges)]) };
    await tx.store.db.updateTable('groups').set({ privileges: next.privileges }).where('id', '=', row.id).execute();
    await announce(tx, TOPICS.accessChanged, '*');
    return describe(tx, next);
  });
}

export async function findGroup(ctx: ControlContext, name: string): Promise<GroupsTable | undefined> {
  return ctx.store.db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
}

/**
 * A group's row, or RESOURCE_NOT_FOUND. Inside `transact` it stays locked until commit (on
 * PostgreSQL), so a grant or membership written for it cannot interleave with its delete.
 */
export async function getGroupRow(ctx: ControlContext, name: string): Promise<GroupsTable> {
  return rowByName(ctx, 'groups', name, { lock: true });
}

export async function getGroup(ctx: ControlContext, name: string): Promise<GroupInfo> {
  return describe(ctx, await getGroupRow(ctx, name));
}

export async function listGroups(ctx: ControlContext): Promise<GroupInfo[]> {
  const rows = await ctx.store.db.selectFrom('groups').selectAll().orderBy('name').execute();
  return Promise.all(rows.map((r) => describe(ctx, r)));
}

/** Deletes a group; its memberships and grants go with it (cascade, docs/decisions.md). */
export async function deleteGroup(ctx: ControlContext, name: string): Promise<void> {
  await transact(ctx, async (tx) => {
    const row = await getGroupRow(tx, name);
    await tx.store.db.deleteFrom('grants').where('group_id', '=', row.id).execute();
    await tx.store.db.deleteFrom('group_members').where('group_id', '=', row.id).execute();
    await tx.store.db.deleteFrom('groups').where('id', '=', row.id).execute();
    await announce(tx, TOPICS.accessChanged, '*');
  });
}

/** Adds a user to a group; idempotent (PUT), parallel PUTs included (no duplicate-key race). */
export async function addMember(ctx: ControlContext, group: string, username: string): Promise<GroupInfo> {
  return transact(ctx, async (tx) => {
    const [g, u] = await Promise.all([getGroupRow(tx, group), userRow(tx, username)]);
    await tx.store.db
      .insertInto('group_members')
      .values({ group_id: g.id, user_id: u.id })
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .execute();
    await announce(tx, TOPICS.accessChanged, u.id);
    return describe(tx, g);
  });
}

/** Removes a user from a group: the rights it gave are gone on the next request. */
export async function removeMember(ctx: ControlContext, group: string, username: string): Promise<GroupInfo> {
  return transact(ctx, async (tx) => {
    const [g, u] = await Promise.all([getGroupRow(tx, group), userRow(tx, username)]);
    const result = await tx.store.db
      .deleteFrom('group_members')
      .where('group_id', '=', g.id)
      .where('user_id', '=', u.id)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(`member of "${group}"`, username);
    await announce(tx, TOPICS.accessChanged, u.id);
    return describe(tx, g);
  });
}

/** The groups a user is in, by user id. */
export async function groupsOf(ctx: ControlContext, userId: string): Promise<GroupInfo[]> {
  const rows = await ctx.store.db
    .selectFrom('group_members')
    .innerJoin('groups', 'groups.id', 'group_members.group_id')
    .selectAll('groups')
    .where('group_members.user_id', '=', userId)
    .orderBy('groups.name')
    .execute();
  return Promise.all(rows.map((r) => describe(ctx, r)));
}

async function userRow(ctx: ControlContext, username: string) {
  return rowByName(ctx, 'users', username);
}

async function describe(ctx: ControlContext, row: GroupsTable): Promise<GroupInfo> {
  const members = await ctx.store.db
    .selectFrom('group_members')
    .innerJoin('users', 'users.id', 'group_members.user_id')
    .select('users.username')
    .where('group_members.group_id', '=', row.id)
    .orderBy('users.username')
    .execute();
  return {
    name: row.name,
    privileges: JSON.parse(row.privileges) as GlobalPrivilege[],
    members: members.map((m) => m.username),
    created_at: row.created_at,
  };
}
