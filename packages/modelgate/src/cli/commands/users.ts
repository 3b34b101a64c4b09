import type { Command } from 'commander';
import { ModelgateError } from '../../errors/registry.js';
import { type ApiOptions, apiCommand, apiPath, listAll, renderFields, withClient } from '../client.js';
import { printJson, printList, printText } from '../output.js';
import { readPassword } from '../password-input.js';
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

/** `modelgate users create|list|show|disable|enable|set-password|delete` (global admins). */
export function registerUsers(program: Command): void {
  const users = program.command('users').description('Create, list, disable and delete users (global admins)');

  apiCommand(
    users
      .command('create')
      .description('Create a user; the password is read from stdin, or asked without echo on a terminal')
      .argument('<username>', 'lowercase letters, digits, dashes')
      .option('--group <group>', 'add to this group (repeatable)', collect),
  ).action((username: string, opts: ApiOptions & { group?: string[] }) =>
    withClient(opts, async (client, json) => {
      const password = await newPassword(username);
      const user = await client.request<UserInfo>('POST', apiPath('users'), {
        username,
        password,
        ...(opts.group ? { groups: opts.group } : {}),
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
      .description('Set a password (your own, or anyone’s as a global admin); read like create')
      .argument('<username>'),
  ).action((username: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('PUT', apiPath('users', username, 'password'), { password: await newPassword(username) });
      if (json) return printJson({ username, password_set: true });
      printText(`Password set for ${username}; its other sessions ended`);
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
