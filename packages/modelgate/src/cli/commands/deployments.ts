import type { Command } from 'commander';
import { type ApiOptions, apiCommand, apiPath, type DeploymentInfo, listAll, withClient } from '../client.js';
import { printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';
import { registerDeploymentUpdate } from './deployments-update.js';
import { renderDeployment } from './render-deployment.js';

/**
 * `modelgate deployments list|show|update|enable|disable|delete`: reads, changes and switches
 * deployments through the management API.
 */
export function registerDeployments(program: Command): void {
  const deployments = program
    .command('deployments')
    .description('List, show, update, enable, disable and delete deployments');

  apiCommand(deployments.command('list').description('List deployments')).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const deployments = await listAll<DeploymentInfo>(client, apiPath('deployments'), 'deployments');
      if (json) return printList(deployments);
      if (deployments.length === 0) {
        return printText('No deployments yet. Create one with: modelgate deploy NAME --upstream URL');
      }
      const rows = deployments.map((d) => [
        d.name,
        d.access,
        d.enabled ? 'yes' : 'no',
        String(d.revision),
        d.upstream,
        `${d.service}@${d.version}`,
        d.infrastructure,
      ]);
      printText(renderTable(['NAME', 'ACCESS', 'ENABLED', 'REVISION', 'UPSTREAM', 'SERVICE', 'INFRASTRUCTURE'], rows));
    }),
  );

  apiCommand(
    deployments.command('show').description('Show one deployment').argument('<name>', 'deployment name'),
  ).action((name: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const info = await client.request<DeploymentInfo>('GET', apiPath('deployments', name));
      if (json) return printJson(info);
      printText(renderDeployment(info));
    }),
  );

  registerDeploymentUpdate(deployments);

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    apiCommand(
      deployments
        .command(verb)
        .description(
          enabled
            ? 'Enable a deployment: the gateway serves it again'
            : 'Disable a deployment: the gateway answers 503 until it is enabled',
        )
        .argument('<name>', 'deployment name'),
    ).action((name: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const info = await client.request<DeploymentInfo>('POST', apiPath('deployments', name, verb));
        if (json) return printJson(info);
        printText(
          enabled
            ? `Deployment ${info.name} enabled (revision ${info.revision})`
            : `Deployment ${info.name} disabled: the gateway answers 503 until \`modelgate deployments enable ${info.name}\``,
        );
      }),
    );
  }

  apiCommand(
    deployments
      .command('delete')
      .description('Delete a deployment and its own API keys; the gateway stops serving it on the next request')
      .argument('<name>', 'deployment name'),
  ).action((name: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath('deployments', name));
      if (json) return printJson({ deleted: name });
      printText(`Deleted deployment ${name}`);
    }),
  );
}
