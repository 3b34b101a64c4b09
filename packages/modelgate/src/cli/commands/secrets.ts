import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import {
  type ApiOptions,
  apiCommand,
  apiPath,
  type DeploymentInfo,
  listAll,
  type ManagementClient,
  type SecretInfo,
  type SecretResponse,
  withClient,
} from '../client.js';
import { printJson, printList, printText } from '../output.js';
import { readAllStdin } from '../password-input.js';
import { renderTable } from '../table.js';

interface SecretValueOptions extends ApiOptions {
  readonly value?: string;
  readonly generate?: boolean;
}

/** What `create` and `update` send: the value, or a request to generate one. */
export type SecretValueBody = { value: string } | { generate: true };

const VALUE_HELP = 'the secret value; "-" reads it from stdin, so it stays out of shell history';
const STDIN_EXAMPLE = `
Examples:
  $ modelgate secrets create hf-basic --generate
  $ printf '%s' "$PASSWORD" | modelgate secrets create hf-basic --value -
  $ modelgate secrets update hf-basic --value - < password.txt`;

/**
 * `modelgate secrets create|update|list|delete` (Gradient secrets). Values are write-only: a
 * generated one is printed once, and nothing lists them again.
 */
/** `--value V | --value - | --generate`, shared by create and update. */
function valueOptions(command: Command): Command {
  return command
    .option('--value <value>', VALUE_HELP)
    .option('--generate', 'generate a strong value; it is printed once')
    .addHelpText('after', STDIN_EXAMPLE);
}

export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets').description('Create, update, list and delete secrets (Basic passwords)');

  apiCommand(
    valueOptions(secrets.command('create'))
      .description('Create a secret from a value, or have the node generate one (printed once)')
      .argument('<name>', 'secret name'),
  ).action((name: string, opts: SecretValueOptions) =>
    withClient(opts, async (client, json) => {
      const body = { name, ...(await secretValueBody(opts)) };
      const res = await client.request<SecretResponse>('POST', apiPath('secrets'), body);
      if (json) return printJson(res);
      printText(
        res.value === undefined
          ? `Created secret ${res.secret.name}`
          : `Created secret ${res.secret.name}. Its generated value, shown once; store it now:\n${res.value}`,
      );
    }),
  );

  apiCommand(
    valueOptions(secrets.command('update'))
      .description('Change the value of a secret; deployments keep the old value until `modelgate redeploy`')
      .argument('<name>', 'secret name'),
  ).action((name: string, opts: SecretValueOptions) =>
    withClient(opts, async (client, json) => {
      const body = await secretValueBody(opts);
      const res = await client.request<SecretResponse>('PUT', apiPath('secrets', name), body);
      const reminder = redeployReminder(res.secret.name, await deploymentsUsing(client, res.secret.name));
      if (json) {
        printJson(res);
        process.stderr.write(`${reminder}\n`);
        return;
      }
      const generated = res.value === undefined ? '' : `\nIts generated value, shown once; store it now:\n${res.value}`;
      printText(`Updated secret ${res.secret.name}.${generated}\n${reminder}`);
    }),
  );

  apiCommand(secrets.command('list').description('List secrets by name (never their values)')).action(
    (opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        const secrets = await listAll<SecretInfo>(client, apiPath('secrets'), 'secrets');
        if (json) return printList(secrets);
        if (secrets.length === 0)
          return printText('No secrets yet. Create one with: modelgate secrets create NAME --generate');
        printText(
          renderTable(
            ['NAME', 'CREATED', 'UPDATED'],
            secrets.map((s) => [s.name, s.created_at, s.updated_at]),
          ),
        );
      }),
  );

  apiCommand(secrets.command('delete').description('Delete a secret').argument('<name>', 'secret name')).action(
    (name: string, opts: ApiOptions) =>
      withClient(opts, async (client, json) => {
        await client.request('DELETE', apiPath('secrets', name));
        if (json) return printJson({ deleted: name });
        printText(`Deleted secret ${name}`);
      }),
  );
}

/**
 * Names of the deployments whose Basic password comes from the secret, or undefined when they
 * cannot be listed (the update itself succeeded; this is only for the reminder).
 */
async function deploymentsUsing(client: ManagementClient, secret: string): Promise<string[] | undefined> {
  try {
    const deployments = await listAll<DeploymentInfo>(client, apiPath('deployments'), 'deployments');
    return deployments.filter((d) => d.auth.basic_secret === secret).map((d) => d.name);
  } catch {
    return undefined;
  }
}

/** G4: a changed secret changes nothing until the deployments using it are redeployed. */
function redeployReminder(secret: string, users: string[] | undefined): string {
  if (users === undefined) {
    return `Deployments that use secret ${secret} keep its old value until you run \`modelgate redeploy DEPLOYMENT\`.`;
  }
  if (users.length === 0) return `No deployment uses secret ${secret} yet.`;
  const commands = users.map((u) => `  modelgate redeploy ${u}`).join('\n');
  return `Deployments that use secret ${secret} keep its old value until they are redeployed:\n${commands}`;
}

/** Exactly one of `--value V` / `--value -` (stdin) / `--generate`, or a usage error. */
export async function secretValueBody(
  opts: Pick<SecretValueOptions, 'value' | 'generate'>,
  stdin: NodeJS.ReadStream = process.stdin,
): Promise<SecretValueBody> {
  const hasValue = opts.value !== undefined;
  if (hasValue === (opts.generate === true)) {
    throw new ModelgateError(
      'CLI_USAGE',
      'give exactly one of --value VALUE (or --value - to read stdin) and --generate',
    );
  }
  if (!hasValue) return { generate: true };
  if (opts.value !== '-') {
    if (opts.value === '') throw new ModelgateError('CLI_USAGE', '--value is empty');
    return { value: opts.value as string };
  }
  const value = await readValueFromStdin(stdin);
  if (value === '') throw new ModelgateError('CLI_USAGE', '--value - read nothing from stdin');
  return { value };
}

async function readValueFromStdin(stdin: NodeJS.ReadStream): Promise<string> {
  if (stdin.isTTY) process.stderr.write('Type the secret value, then press Enter and Ctrl-D:\n');
  return readAllStdin(stdin);
}
