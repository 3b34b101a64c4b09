import { passwordProblem } from '../auth/password-policy.js';
import { ModelgateError } from '../errors/registry.js';
import { hashPassword } from '../secrets/password-hash.js';
import type { UsersTable } from '../store/schema.js';
import type { ControlContext } from './context.js';
import { nowIso } from './context.js';
import { addMember, groupsOf } from './groups.js';
import { checkName, conflict, newId, notFound, Problems } from './validation.js';

/** A user as the API shows it: never the password hash. */
export interface UserInfo {
  readonly username: string;
  readonly id: string;
  readonly disabled: boolean;
  readonly groups: readonly string[];
  readonly created_at: string;
}

/** Refuses a password breaking NIST SP 800-63B rules, without ever quoting it. */
export function checkPassword(password: unknown): string {
  const problem = passwordProblem(password);
  if (problem) throw new ModelgateError('PASSWORD_REJECTED', problem);
  return password as string;
}

/** Creates a user (D2) with a password and, optionally, its groups (which must exist). */
export async function createUser(
  ctx: ControlContext,
  input: { username: string; password: string; groups?: readonly string[] },
): Promise<UserInfo> {
  const problems = new Problems();
  checkName(problems, 'username', input.username);
  for (const g of input.groups ?? []) checkName(problems, 'groups[]', g);
  problems.throwIfAny();
  const password = checkPassword(input.password);
  if (await findUser(ctx, input.username)) throw conflict('user', input.username);
  const row: UsersTable = {
    id: newId('usr'),
    username: input.username,
    password_hash: await hashPassword(password),
    disabled: 0,
    created_at: nowIso(),
  };
  await ctx.store.db.insertInto('users').values(row).execute();
  for (const g of input.groups ?? []) await addMember(ctx, g, input.username);
  return describe(ctx, row);
}

export async function findUser(ctx: ControlContext, username: string): Promise<UsersTable | undefined> {
  return ctx.store.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function getUserRow(ctx: ControlContext, username: string): Promise<UsersTable> {
  const row = await findUser(ctx, username);
  if (!row) throw notFound('user', username);
  return row;
}

export async function getUser(ctx: ControlContext, username: string): Promise<UserInfo> {
  return describe(ctx, await getUserRow(ctx, username));
}

export async function listUsers(ctx: ControlContext): Promise<UserInfo[]> {
  const rows = await ctx.store.db.selectFrom('users').selectAll().orderBy('username').execute();
  return Promise.all(rows.map((r) => describe(ctx, r)));
}

/**
 * Disables or enables a user. Disabling ends every session at once: sessions are read from the
 * store on each request, so every process refuses the user from the next request on.
 */
export async function setUserDisabled(ctx: ControlContext, username: string, disabled: boolean): Promise<UserInfo> {
  const row = await getUserRow(ctx, username);
  await ctx.store.db
    .updateTable('users')
    .set({ disabled: disabled ? 1 : 0 })
    .where('id', '=', row.id)
    .execute();
  if (disabled) await ctx.store.db.deleteFrom('sessions').where('user_id', '=', row.id).execute();
  return describe(ctx, { ...row, disabled: disabled ? 1 : 0 });
}

/** Sets a new password; every other session of the user ends (a changed password is a reset). */
export async function setPassword(
  ctx: ControlContext,
  username: string,
  password: unknown,
  keepSession?: string,
): Promise<void> {
  const row = await getUserRow(ctx, username);
  const hash = await hashPassword(checkPassword(password));
  await ctx.store.db.updateTable('users').set({ password_hash: hash }).where('id', '=', row.id).execute();
  let ended = ctx.store.db.deleteFrom('sessions').where('user_id', '=', row.id);
  if (keepSession) ended = ended.where('id', '!=', keepSession);
  await ended.execute();
}

/** Deletes a user with its sessions, memberships and ownerships (cascade, docs/decisions.md). */
export async function deleteUser(ctx: ControlContext, username: string): Promise<void> {
  const row = await getUserRow(ctx, username);
  await ctx.store.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('sessions').where('user_id', '=', row.id).execute();
    await trx.deleteFrom('group_members').where('user_id', '=', row.id).execute();
    await trx.deleteFrom('owners').where('user_id', '=', row.id).execute();
    await trx.deleteFrom('users').where('id', '=', row.id).execute();
  });
}

async function describe(ctx: ControlContext, row: UsersTable): Promise<UserInfo> {
  return {
    username: row.username,
    id: row.id,
    disabled: Number(row.disabled) === 1,
    groups: (await groupsOf(ctx, row.id)).map((g) => g.name),
    created_at: row.created_at,
  };
}
