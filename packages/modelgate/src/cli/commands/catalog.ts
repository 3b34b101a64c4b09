import type { Command } from 'commander';
import { type ApiOptions, apiCommand, apiPath, listAll, renderFields, withClient } from '../client.js';
import { printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';

interface NamedInfo {
  name: string;
  description: string;
  created_at: string;
}

/**
 * `modelgate infrastructures|services create|list|show|delete`: the named catalog deployments
 * point into. Lists show only what the caller may read.
 */
export function registerCatalog(program: Command): void {
  for (const [plural, singular, who] of [
    ['infrastructures', 'infrastructure', 'global admins'],
    ['services', 'service', 'the create_service privilege; you own what you create'],
  ] as const) {
    const group = program.command(plural).description(`Create, list, show and delete ${plural}`);

    apiCommand(
      group
        .command('create')
        .description(`Create a ${singular} (${who})`)
        .argument('<name>')
        .option('--description <text>', 'what it is for'),
    ).action((name: string, opts: ApiOptions & { description?: string }) =>
      withClient(opts, async (client, json) => {
        const made = await client.request<NamedInfo>('POST', apiPath(plural), {
          name,
          ...(opts.description === undefined ? {} : { description: opts.description }),
        });
        if (json) return printJson(made);
        printText(`Created ${singular} ${made.name}`);
      }),
    );

    apiCommand(group.command('list').description(`List the ${plural} you may see`)).action((opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const items = await listAll<NamedInfo>(client, apiPath(plural), plural);
        if (json) return printList(items);
        const rows = items.map((r) => [r.name, r.description || '-', r.created_at]);
        printText(renderTable(['NAME', 'DESCRIPTION', 'CREATED'], rows));
      }),
    );

    apiCommand(group.command('show').description(`Show a ${singular}`).argument('<name>')).action(
      (name: string, opts: ApiOptions) =>
        withClient(opts, async (client, json) => {
          const r = await client.request<NamedInfo>('GET', apiPath(plural, name));
          if (json) return printJson(r);
          printText(
            renderFields([
              ['name', r.name],
              ['description', r.description || '-'],
              ['created', r.created_at],
            ]),
          );
        }),
    );

    apiCommand(
      group
        .command('delete')
        .description(`Delete a ${singular} (refused while a deployment uses it)`)
        .argument('<name>'),
    ).action((name: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        await client.request('DELETE', apiPath(plural, name));
        if (json) return printJson({ deleted: name });
        printText(`Deleted ${singular} ${name}`);
      }),
    );
  }
}
