import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import {
  type ApiOptions,
  ApiRequestError,
  apiCommand,
  apiPath,
  listAll,
  type ManagementClient,
  renderFields,
  withClient,
} from '../client.js';
import { printJson, printList, printText } from '../output.js';
import { readPassword, readPasswords } from '../password-input.js';
import { renderTable } from '../table.js';

interface UserInfo {
  username: string;
  id: string;
  disabled: boolean;
  groups: string[];
  created_at: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

async function newPassword(username: string): Promise<string> {
  const password = await readPassword(`New password for ${username}: `);
  if (password === '') throw new ModelgateError('CLI_USAGE', 'no password given');
  return password;
}

/** The group `users create --admin` puts people in. */
const ADMINS = 'admins';

/**
 * Makes sure the group `admins` exists with the `admin` privilege: created when missing; an
 * existing one without the privilege is an error (the CLI never widens a group's rights by itself).
 */
async function ensureAdminsGroup(client: ManagementClient): Promise<void> {
  const group = await client
    .request<{ privileges: string[] }>('GET', apiPath('groups', ADMINS))
    .catch((err: unknown) => {
      if (err instanceof ApiRequestError && err.httpStatus === 404) return undefined;
      throw err;
    });
  if (!group) {
    await client.request('POST', apiPath('groups'), { name: ADMINS, privileges: ['admin'] });
  } else if (!group.privileges.includes('admin')) {
    throw new ModelgateError(
      'CLI_USAGE',
      `the group "${ADMINS}" exists without the admin privilege; give it with \`modelgate groups set-privileges ${ADMINS} --privilege admin\`, or use --group`,
    );
  }
}

/**
 * `modelgate users create|list|show|disable|enable|reset-password|delete` (global admins) and
 * `set-password` (your own, with the current one).
 */
export function registerUsers(program: Command): void {
  const users = program.command('users').description('Create, list, disable and delete users (global admins)');

  apiCommand(
    users
      .command('create')
      .description('Create a user; the password is read from stdin, or asked without echo on a terminal')
      .argument('<username>', 'lowercase letters, digits, dashes')
      .option('--group <group>', 'add to this group (repeatable)', collect)
      .option(
        '--admin',
        `make a global admin: add to the group "${ADMINS}" (created with the admin privilege if missing)`,
      )
      .addHelpText(
        'after',
        `
Examples (the first user, with the management key of ./key_file.json):
  $ echo 'a long passphrase of yours' | modelgate users create ada --admin
  $ SESSION=$(echo 'a long passphrase of yours' | modelgate sessions create --username ada)`,
      ),
  ).action((username: string, opts: ApiOptions & { group?: string[]; admin?: boolean }) =>
    withClient(opts, async (client, json) => {
      const password = await newPassword(username);
      const groups = [...(opts.group ?? [])];
      if (opts.admin) {
        await ensureAdminsGroup(client);
        if (!groups.includes(ADMINS)) groups.push(ADMINS);
      }
      const user = await client.request<UserInfo>('POST', apiPath('users'), {
        username,
        password,
        ...(groups.length > 0 ? { groups } : {}),
      });
      if (json) return printJson(user);
      printText(`Created user ${user.username}${user.groups.length ? ` in ${user.groups.join(', ')}` : ''}`);
    }),
  );

  apiCommand(users.command('list').description('List users')).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const users = await listAll<UserInfo>(client, apiPath('users'), 'users');
      if (json) return printList(users);
      const rows = users.map((u) => [u.username, u.disabled ? 'yes' : 'no', u.groups.join(',') || '-', u.created_at]);
      printText(renderTable(['USERNAME', 'DISABLED', 'GROUPS', 'CREATED'], rows));
    }),
  );

  apiCommand(users.command('show').description('Show a user').argument('<username>')).action(
    (username: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const u = await client.request<UserInfo>('GET', apiPath('users', username));
        if (json) return printJson(u);
        printText(
          renderFields([
            ['username', u.username],
            ['id', u.id],
            ['disabled', u.disabled ? 'yes' : 'no'],
            ['groups', u.groups.join(', ') || '-'],
            ['created', u.created_at],
          ]),
        );
      }),
  );

  for (const verb of ['disable', 'enable'] as const) {
    apiCommand(
      users
        .command(verb)
        .description(verb === 'disable' ? 'Disable a user: its sessions end at once' : 'Enable a user again')
        .argument('<username>'),
    ).action((username: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const u = await client.request<UserInfo>('POST', apiPath('users', username, verb));
        if (json) return printJson(u);
        printText(`${verb === 'disable' ? 'Disabled' : 'Enabled'} user ${u.username}`);
      }),
    );
  }

  apiCommand(
    users
      .command('set-password')
      .description(
        'Change your own password: asks the current one, then the new one (from stdin: two lines, current then new); your other sessions end',
      )
      .argument('<username>', 'your own username'),
  ).action((username: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const me = await client.request<{ kind: string; user?: string }>('GET', apiPath('whoami'));
      if (me.kind !== 'user' || me.user !== username) {
        throw new ModelgateError(
          'CLI_USAGE',
          `set-password changes your own password; a global admin resets ${username}'s with \`modelgate users reset-password ${username}\``,
        );
      }
      const [current, password] = await readPasswords([
        `Current password for ${username}: `,
        `New password for ${username}: `,
      ]);
      if (!current) throw new ModelgateError('CLI_USAGE', 'no current password given');
      if (!password) throw new ModelgateError('CLI_USAGE', 'no new password given');
      await client.request('PUT', apiPath('users', username, 'password'), { current_password: current, password });
      if (json) return printJson({ username, password_changed: true });
      printText(`Password changed for ${username}; your other sessions ended`);
    }),
  );

  apiCommand(
    users
      .command('reset-password')
      .description(
        'Reset another user’s password (global admins; no current password); read like create; all its sessions end',
      )
      .argument('<username>'),
  ).action((username: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('POST', apiPath('users', username, 'password-reset'), {
        password: await newPassword(username),
      });
      if (json) return printJson({ username, password_reset: true });
      printText(`Password reset for ${username}; all its sessions ended`);
    }),
  );

  apiCommand(
    users.command('delete').description('Delete a user with its sessions and memberships').argument('<username>'),
  ).action((username: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath('users', username));
      if (json) return printJson({ deleted: username });
      printText(`Deleted user ${username}`);
    }),
  );
}
