import { type Command, Option } from 'commander';
import type { AuthSettings } from '../../kernel/auth-settings.js';
import { ModelgateError } from '../../kernel/errors.js';
import { ACCESS_VALUES } from '../../kernel/validation.js';
import { type Access, type ApiOptions, apiCommand, apiPath, type DeploymentInfo, withClient } from '../client.js';
import { printJson, printText } from '../output.js';
import { renderDeployment } from './render-deployment.js';

interface UpdateOptions extends ApiOptions {
  readonly upstream?: string;
  readonly access?: Access;
  /** A secret name, or false for `--no-basic-secret`. */
  readonly basicSecret?: string | false;
  readonly apiKeys?: 'on' | 'off';
  readonly forwardCredential?: 'on' | 'off';
  readonly version?: string;
}

/** The body of `PATCH /api/v1/deployments/NAME`. */
export interface UpdateRequest {
  upstream?: string;
  access?: Access;
  version?: string;
  auth?: AuthSettings;
}

/** The one-line usage, for errors. */
export const UPDATE_USAGE =
  'modelgate deployments update NAME [--upstream URL] [--access public|protected] [--basic-secret S | --no-basic-secret] [--api-keys on|off] [--forward-credential on|off] [--version V]';

/**
 * `modelgate deployments update NAME ...`: changes a deployment through `PATCH`, which makes a new
 * revision. Auth flags change only the settings they name: the others are read from the
 * deployment first, then the whole set is sent as the deployment's override.
 */
export function registerDeploymentUpdate(deployments: Command): void {
  apiCommand(
    deployments
      .command('update')
      .description("Change a deployment's upstream, access or auth settings (a new revision)")
      .argument('<name>', 'deployment name')
      .option('--upstream <url>', 'URL of the model server the gateway forwards to')
      .addOption(new Option('--access <access>', 'who may call it').choices(ACCESS_VALUES))
      .option('--basic-secret <secret>', 'accept HTTP Basic with this secret’s value as the password')
      .option('--no-basic-secret', 'stop accepting HTTP Basic')
      .addOption(new Option('--api-keys <on|off>', 'accept API keys').choices(['on', 'off']))
      .addOption(
        new Option('--forward-credential <on|off>', "pass the caller's credential on to the model server").choices([
          'on',
          'off',
        ]),
      )
      .option('--version <version>', 'deploy another version of the same service'),
  ).action((name: string, opts: UpdateOptions) =>
    withClient(opts, async (client, json) => {
      const current = touchesAuth(opts)
        ? await client.request<DeploymentInfo>('GET', apiPath('deployments', name))
        : undefined;
      const body = updateRequest(opts, current?.auth);
      const info = await client.request<DeploymentInfo>('PATCH', apiPath('deployments', name), body);
      if (json) return printJson(info);
      printText(`Updated ${info.name}: revision ${info.revision} is live\n\n${renderDeployment(info)}`);
    }),
  );
}

function touchesAuth(opts: UpdateOptions): boolean {
  return opts.basicSecret !== undefined || opts.apiKeys !== undefined || opts.forwardCredential !== undefined;
}

/**
 * Builds the PATCH body from the flags; `current` is the deployment's effective auth settings,
 * needed only when an auth flag is given. A usage error when nothing would change.
 */
export function updateRequest(opts: UpdateOptions, current: AuthSettings | undefined): UpdateRequest {
  const body: UpdateRequest = {};
  if (opts.upstream !== undefined) body.upstream = opts.upstream;
  if (opts.access !== undefined) body.access = opts.access;
  if (opts.version !== undefined) body.version = opts.version;
  if (current && touchesAuth(opts)) {
    body.auth = {
      basic_secret: opts.basicSecret === undefined ? current.basic_secret : opts.basicSecret || null,
      api_keys: opts.apiKeys === undefined ? current.api_keys : opts.apiKeys === 'on',
      forward_credential:
        opts.forwardCredential === undefined ? current.forward_credential : opts.forwardCredential === 'on',
    };
  }
  if (Object.keys(body).length === 0 && !touchesAuth(opts)) {
    throw new ModelgateError('CLI_USAGE', `nothing to change; usage: ${UPDATE_USAGE}`);
  }
  return body;
}
