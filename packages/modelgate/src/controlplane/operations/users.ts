import { ModelgateError } from '../../kernel/errors.js';
import { hashPassword } from '../../kernel/password-hash.js';
import { passwordProblem } from '../../kernel/password-policy.js';
import { TOPICS } from '../../kernel/topics.js';
import { checkName, conflict, newId, Problems } from '../../kernel/validation.js';
import type { UsersTable } from '../../store/schema.js';
import type { ControlContext } from './context.js';
import { announce, nowIso } from './context.js';
import { addMember, groupsOf } from './groups.js';
import { rowByName } from './rows.js';
import { transact } from './transaction.js';

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
  // scrypt before the transaction: on SQLite its write lock would stall every writer meanwhile.
  const passwordHash = await hashPassword(password);
  // One transaction: a missing group leaves no user behind; a parallel create of the same name
  // that passes the check above loses on the unique index (409).
  return transact(ctx, async (tx) => {
    if (await findUser(tx, input.username)) throw conflict('user', input.username);
    const row: UsersTable = {
      id: newId('usr'),
      username: input.username,
      password_hash: passwordHash,
      disabled: 0,
      created_at: nowIso(),
    };
    await tx.store.db.insertInto('users').values(row).execute();
    for (const g of input.groups ?? []) await addMember(tx, g, input.username);
    return describe(tx, row);
  });
}

export async function findUser(ctx: ControlContext, username: string): Promise<UsersTable | undefined> {
  return ctx.store.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

/** A user's row, or RESOURCE_NOT_FOUND; locked until commit inside `transact` (PostgreSQL). */
export async function getUserRow(ctx: ControlContext, username: string): Promise<UsersTable> {
  return rowByName(ctx, 'users', username, { lock: true });
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
  return transact(ctx, async (tx) => {
    const row = await getUserRow(tx, username);
    await tx.store.db
      .updateTable('users')
      .set({ disabled: disabled ? 1 : 0 })
      .where('id', '=', row.id)
      .execute();
    if (disabled) await tx.store.db.deleteFrom('sessions').where('user_id', '=', row.id).execute();
    // Cached API tokens of the user are dropped everywhere; the next request sees the state.
    await announce(tx, TOPICS.accessChanged, row.id);
    return describe(tx, { ...row, disabled: disabled ? 1 : 0 });
  });
}

/** Sets a new password; every other session of the user ends (a changed password is a reset). */
export async function setPassword(
  ctx: ControlContext,
  username: string,
  password: unknown,
  keepSession?: string,
): Promise<void> {
  await getUserRow(ctx, username);
  // scrypt before the transaction (see createUser); the row is read again under lock.
  const hash = await hashPassword(checkPassword(password));
  await transact(ctx, async (tx) => {
    const row = await getUserRow(tx, username);
    await tx.store.db.updateTable('users').set({ password_hash: hash }).where('id', '=', row.id).execute();
    let ended = tx.store.db.deleteFrom('sessions').where('user_id', '=', row.id);
    if (keepSession) ended = ended.where('id', '!=', keepSession);
    await ended.execute();
  });
}

/** Deletes a user with its sessions, memberships and ownerships (cascade, docs/decisions.md). */
export async function deleteUser(ctx: ControlContext, username: string): Promise<void> {
  await transact(ctx, async (tx) => {
    const row = await getUserRow(tx, username);
    await tx.store.db.deleteFrom('sessions').where('user_id', '=', row.id).execute();
    await tx.store.db.deleteFrom('group_members').where('user_id', '=', row.id).execute();
    await tx.store.db.deleteFrom('owners').where('user_id', '=', row.id).execute();
    await tx.store.db
      .deleteFrom('credential_usage')
      .where('kind', '=', 'api_token')
      .where('credential_id', 'in', tx.store.db.selectFrom('api_tokens').select('id').where('user_id', '=', row.id))
      .execute();
    await tx.store.db.deleteFrom('api_tokens').where('user_id', '=', row.id).execute();
    await tx.store.db.deleteFrom('users').where('id', '=', row.id).execute();
    await announce(tx, TOPICS.accessChanged, row.id);
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
