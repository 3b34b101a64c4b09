import { type Command, Option } from 'commander';
import type { AuthSettingsPatch } from '../../kernel/auth-settings.js';
import { ModelgateError } from '../../kernel/errors.js';
import type { OidcSettings } from '../../kernel/oidc-settings.js';
import type { RateLimit } from '../../kernel/rate-limit.js';
import { ACCESS_VALUES } from '../../kernel/validation.js';
import { type Access, type ApiOptions, apiCommand, apiPath, type DeploymentInfo, withClient } from '../client.js';
import { printJson, printText } from '../output.js';
import { addCredentialsFlag, type CredentialsFlag, credentialsSetting } from './credentials-flag.js';
import { addOidcFlags, type OidcFlags, oidcFromFlags, touchesOidc } from './oidc-flags.js';
import {
  DEPLOYMENT_RATE_LIMIT_HELP,
  deploymentRateLimit,
  type RateLimitFlag,
  rateLimitSetting,
} from './rate-limit-flag.js';
import { renderDeployment } from './render-deployment.js';

interface UpdateOptions extends ApiOptions, OidcFlags {
  readonly upstream?: string;
  readonly access?: Access;
  /** A secret name, or false for `--no-basic-secret`. */
  readonly basicSecret?: string | false;
  readonly apiKeys?: 'on' | 'off';
  readonly forwardCredential?: 'on' | 'off';
  readonly version?: string;
  readonly credentials?: CredentialsFlag;
  readonly rateLimit?: RateLimitFlag;
}

/** The body of `PATCH /api/v1/deployments/NAME`. */
export interface UpdateRequest {
  upstream?: string;
  access?: Access;
  version?: string;
  rate_limit?: RateLimit | null;
  auth?: AuthSettingsPatch | { oidc: Record<string, unknown> | null };
}

/** The one-line usage, for errors. */
export const UPDATE_USAGE =
  'modelgate deployments update NAME [--upstream URL] [--access public|protected] [--basic-secret S | --no-basic-secret] [--api-keys on|off] [--forward-credential on|off] [--credentials KIND,...|all] [--rate-limit N/per|none] [--oidc-issuer URL --oidc-audience AUD ... | --no-oidc] [--version V]';

/**
 * `modelgate deployments update NAME ...`: changes a deployment through `PATCH`, which makes a new
 * revision. Auth flags change only the settings they name: the API merges them into the
 * deployment's current settings, so the others (the external issuer's too) stay as they are.
 */
export function registerDeploymentUpdate(deployments: Command): void {
  apiCommand(
    addCredentialsFlag(
      addOidcFlags(
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
          .option('--version <version>', 'deploy another version of the same service')
          .option('--rate-limit <N/per>', DEPLOYMENT_RATE_LIMIT_HELP, deploymentRateLimit),
        true,
      ),
    ),
  ).action((name: string, opts: UpdateOptions) =>
    withClient(opts, async (client, json) => {
      // OIDC flags change the issuer's settings they name: the others are the deployment's.
      const current =
        touchesOidc(opts) && opts.oidc !== false
          ? await client.request<DeploymentInfo>('GET', apiPath('deployments', name))
          : undefined;
      const body = updateRequest(opts, current?.auth.oidc);
      const info = await client.request<DeploymentInfo>('PATCH', apiPath('deployments', name), body);
      if (json) return printJson(info);
      printText(`Updated ${info.name}: revision ${info.revision} is live\n\n${renderDeployment(info)}`);
    }),
  );
}

/** Builds the PATCH body from the flags: only what they name. A usage error when nothing would change. */
export function updateRequest(opts: UpdateOptions, currentOidc?: OidcSettings): UpdateRequest {
  const body: UpdateRequest = {};
  if (opts.upstream !== undefined) body.upstream = opts.upstream;
  if (opts.access !== undefined) body.access = opts.access;
  if (opts.version !== undefined) body.version = opts.version;
  if (opts.rateLimit !== undefined) body.rate_limit = rateLimitSetting(opts.rateLimit) ?? null;
  const auth: Record<string, unknown> = {};
  if (opts.basicSecret !== undefined) auth.basic_secret = opts.basicSecret || null;
  if (opts.apiKeys !== undefined) auth.api_keys = opts.apiKeys === 'on';
  if (opts.forwardCredential !== undefined) auth.forward_credential = opts.forwardCredential === 'on';
  if (opts.credentials !== undefined) auth.credentials = credentialsSetting(opts.credentials);
  const oidc = oidcFromFlags(opts, currentOidc);
  if (oidc !== undefined) auth.oidc = oidc;
  if (Object.keys(auth).length > 0) body.auth = auth as UpdateRequest['auth'];
  if (Object.keys(body).length === 0) {
    throw new ModelgateError('CLI_USAGE', `nothing to change; usage: ${UPDATE_USAGE}`);
  }
  return body;
}
