import type { Command } from 'commander';
import { type ApiOptions, apiCommand, apiPath, listAll, renderFields, withClient } from '../client.js';
import { printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';

interface GroupInfo {
  name: string;
  privileges: string[];
  members: string[];
  created_at: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const PRIVILEGE_HELP = 'global privilege: admin or create_service (repeatable)';

/** `modelgate groups create|list|show|set-privileges|add-member|remove-member|delete` (global admins). */
export function registerGroups(program: Command): void {
  const groups = program.command('groups').description('Groups, their members and global privileges (global admins)');

  apiCommand(
    groups
      .command('create')
      .description('Create a group')
      .argument('<name>')
      .option('--privilege <privilege>', PRIVILEGE_HELP, collect),
  ).action((name: string, opts: ApiOptions & { privilege?: string[] }) =>
    withClient(opts, async (client, json) => {
      const g = await client.request<GroupInfo>('POST', apiPath('groups'), {
        name,
        ...(opts.privilege ? { privileges: opts.privilege } : {}),
      });
      if (json) return printJson(g);
      printText(`Created group ${g.name}${g.privileges.length ? ` with ${g.privileges.join(', ')}` : ''}`);
    }),
  );

  apiCommand(groups.command('list').description('List groups')).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const groups = await listAll<GroupInfo>(client, apiPath('groups'), 'groups');
      if (json) return printList(groups);
      const rows = groups.map((g) => [g.name, g.privileges.join(',') || '-', g.members.join(',') || '-']);
      printText(renderTable(['NAME', 'PRIVILEGES', 'MEMBERS'], rows));
    }),
  );

  apiCommand(groups.command('show').description('Show a group').argument('<name>')).action(
    (name: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const g = await client.request<GroupInfo>('GET', apiPath('groups', name));
        if (json) return printJson(g);
        printText(
          renderFields([
            ['name', g.name],
            ['privileges', g.privileges.join(', ') || '-'],
            ['members', g.members.join(', ') || '-'],
            ['created', g.created_at],
          ]),
        );
      }),
  );

  apiCommand(
    groups
      .command('set-privileges')
      .description('Replace a group’s global privileges (none given: none)')
      .argument('<name>')
      .option('--privilege <privilege>', PRIVILEGE_HELP, collect),
  ).action((name: string, opts: ApiOptions & { privilege?: string[] }) =>
    withClient(opts, async (client, json) => {
      const g = await client.request<GroupInfo>('PATCH', apiPath('groups', name), { privileges: opts.privilege ?? [] });
      if (json) return printJson(g);
      printText(`Group ${g.name} now has ${g.privileges.join(', ') || 'no global privileges'}`);
    }),
  );

  for (const [verb, method] of [
    ['add-member', 'PUT'],
    ['remove-member', 'DELETE'],
  ] as const) {
    apiCommand(
      groups
        .command(verb)
        .description(verb === 'add-member' ? 'Add a user to a group' : 'Remove a user from a group')
        .argument('<group>')
        .argument('<username>'),
    ).action((group: string, username: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const res = await client.request(method, apiPath('groups', group, 'members', username));
        if (json) return printJson(res ?? { group, removed: username });
        printText(method === 'PUT' ? `Added ${username} to ${group}` : `Removed ${username} from ${group}`);
      }),
    );
  }

  apiCommand(
    groups.command('delete').description('Delete a group with its memberships and grants').argument('<name>'),
  ).action((name: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath('groups', name));
      if (json) return printJson({ deleted: name });
      printText(`Deleted group ${name}`);
    }),
  );
}
