import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import { nearest } from '../../kernel/nearest.js';
import { RESOURCE_COLLECTIONS, type ResourceType, RIGHTS_BY_TYPE } from '../../kernel/permissions.js';
import { type ApiOptions, apiCommand, apiPath, withClient } from '../client.js';
import { readAllPages } from '../list-all.js';
import { printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';

function pathOf(type: string): string {
  // Own keys only: `constructor` or `__proto__` is no resource type.
  const plural = Object.hasOwn(RESOURCE_COLLECTIONS, type) ? RESOURCE_COLLECTIONS[type as ResourceType] : undefined;
  if (!plural) throw new ModelgateError('CLI_USAGE', 'the resource type must be infrastructure, service or secret');
  return plural;
}

/** The rights of `--rights`, each one a right of `type` (a usage error naming the allowed ones). */
function checkRights(type: string, list: string): string[] {
  pathOf(type);
  const allowed = RIGHTS_BY_TYPE[type as ResourceType];
  const rights = list
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const wrong = rights.find((r) => !allowed.includes(r));
  if (wrong !== undefined || rights.length === 0) {
    const near = wrong === undefined ? undefined : nearest(wrong, allowed);
    const what = wrong === undefined ? 'no rights given' : `"${wrong}" is not a right on a ${type}`;
    throw new ModelgateError(
      'CLI_USAGE',
      `${what}${near ? ` (did you mean "${near}"?)` : ''}; --rights takes a comma-separated list of ${allowed.join(', ')}`,
    );
  }
  return rights;
}

/**
 * `modelgate grants list|set|remove TYPE NAME [GROUP]`: rights of groups on an infrastructure
 * (view, deploy, admin), a service (read, write, deploy, admin) or a secret (use, admin).
 */
export function registerGrants(program: Command): void {
  const grants = program
    .command('grants')
    .description('Grant groups rights on infrastructures, services and secrets')
    .addHelpText(
      'after',
      `
Examples:
  $ modelgate grants set infrastructure dev data-scientists --rights view,deploy
  $ modelgate grants set service churn everyone --rights read
  $ modelgate grants remove service churn everyone`,
    );

  apiCommand(
    grants.command('list').description('Who holds rights on a resource').argument('<type>').argument('<name>'),
  ).action((type: string, name: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const res = await readAllPages<{ owner: string | null; grants: { group: string; rights: string[] }[] }>(
        client,
        apiPath(pathOf(type), name, 'grants'),
        'grants',
      );
      if (json) return printList(res.grants, { owner: res.owner });
      const rows = res.grants.map((g) => [g.group, g.rights.join(',')]);
      printText(`${res.owner ? `owner: ${res.owner}\n` : ''}${renderTable(['GROUP', 'RIGHTS'], rows)}`);
    }),
  );

  apiCommand(
    grants
      .command('set')
      .description('Grant a group exactly these rights (replaces what it had)')
      .argument('<type>')
      .argument('<name>')
      .argument('<group>')
      .requiredOption(
        '--rights <list>',
        'comma-separated rights: infrastructure view,deploy,admin; service read,write,deploy,admin; secret use,admin',
      ),
  ).action((type: string, name: string, group: string, opts: ApiOptions & { rights: string }) =>
    withClient(opts, async (client, json) => {
      const rights = checkRights(type, opts.rights);
      const res = await client.request<{ group: string; rights: string[] }>(
        'PUT',
        apiPath(pathOf(type), name, 'grants', group),
        { rights },
      );
      if (json) return printJson(res);
      printText(`Granted ${res.rights.join(', ')} on ${type} ${name} to ${res.group}`);
    }),
  );

  apiCommand(
    grants
      .command('remove')
      .description('Take a group’s rights away (in force on the next request)')
      .argument('<type>')
      .argument('<name>')
      .argument('<group>'),
  ).action((type: string, name: string, group: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath(pathOf(type), name, 'grants', group));
      if (json) return printJson({ type, name, group, removed: true });
      printText(`Removed ${group}'s rights on ${type} ${name}`);
    }),
  );
}
