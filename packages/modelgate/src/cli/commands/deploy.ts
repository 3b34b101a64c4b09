import { type Command, Option } from 'commander';
import type { CredentialKind } from '../../kernel/credential-kinds.js';
import { ModelgateError } from '../../kernel/errors.js';
import type { RateLimit } from '../../kernel/rate-limit.js';
import { ACCESS_VALUES } from '../../kernel/validation.js';
import {
  type Access,
  type ApiOptions,
  ApiRequestError,
  apiCommand,
  apiPath,
  type DeploymentInfo,
  type DeployResponse,
  listAll,
  type ManagementClient,
  positiveInteger,
  type SecretInfo,
  withClient,
} from '../client.js';
import { printJson, printText } from '../output.js';
import { renderTable } from '../table.js';
import { addCredentialsFlag, type CredentialsFlag, credentialsSetting } from './credentials-flag.js';
import { UPDATE_USAGE } from './deployments-update.js';
import { addOidcFlags, type OidcFlags, oidcFromFlags } from './oidc-flags.js';
import {
  DEPLOYMENT_RATE_LIMIT_HELP,
  deploymentRateLimit,
  type RateLimitFlag,
  rateLimitSetting,
} from './rate-limit-flag.js';
import { renderDeployment } from './render-deployment.js';

interface DeployOptions extends ApiOptions, OidcFlags {
  readonly upstream: string;
  readonly access?: Access;
  readonly basicSecret?: string;
  readonly apiKeys?: number;
  readonly infrastructure?: string;
  readonly service?: string;
  readonly version?: string;
  readonly forwardCredential?: boolean;
  readonly generateSecret?: boolean;
  readonly credentials?: CredentialsFlag;
  readonly rateLimit?: RateLimitFlag;
}

/** The body of `POST /api/v1/deployments`. */
export interface DeployRequest {
  name: string;
  upstream: string;
  access?: Access;
  infrastructure?: string;
  service?: string;
  version?: string;
  auth?: {
    basic_secret: string | null;
    api_keys: true;
    forward_credential: boolean;
    oidc?: Record<string, unknown> | null;
    credentials?: CredentialKind[] | null;
  };
  api_keys?: number;
  rate_limit?: RateLimit;
}

/**
 * `modelgate deploy NAME --upstream URL ...`, the one-command path that creates what is missing,
 * and `modelgate redeploy NAME`, which snapshots secrets again into a new revision.
 */
export function registerDeploy(program: Command): void {
  apiCommand(
    addCredentialsFlag(
      addOidcFlags(
        program
          .command('deploy')
          .description(
            'Deploy a model server: creates the deployment and whatever is missing (the infrastructure, a service ' +
              'named after the deployment, its version, the Basic secret)',
          )
          .argument('<name>', 'deployment name; served at /<name>/ on the inference listener')
          .requiredOption('--upstream <url>', 'URL of the model server the gateway forwards to')
          .addOption(new Option('--access <access>', 'who may call it (default: protected)').choices(ACCESS_VALUES))
          .option('--basic-secret <secret>', 'name of the secret whose value is the Basic password (must exist)')
          .option('--generate-secret', 'create the --basic-secret secret with a generated value when it does not exist')
          .option('--api-keys <n>', 'also create N API keys for this deployment (shown once)', positiveInteger)
          .option('--infrastructure <name>', 'infrastructure to deploy on (default: default)')
          .option('--service <name>', 'service to deploy (default: the deployment name)')
          .option('--version <version>', 'version of the service to deploy (default: 1)')
          .option('--forward-credential', "pass the caller's credential on to the model server")
          .option('--rate-limit <N/per>', DEPLOYMENT_RATE_LIMIT_HELP, deploymentRateLimit),
        false,
      ),
    ),
  ).action((name: string, opts: DeployOptions) =>
    withClient(opts, async (client, json) => {
      if (opts.basicSecret !== undefined && !opts.generateSecret) await requireSecret(client, opts.basicSecret);
      const res = await client
        .request<DeployResponse>('POST', apiPath('deployments'), deployRequest(name, opts))
        .catch((err: unknown) => {
          throw explainExisting(err, name);
        });
      if (json) return printJson(res);
      printText(renderDeployResult(res));
    }),
  );

  apiCommand(
    program
      .command('redeploy')
      .description("Make a new revision of a deployment, taking its secret's current value as the Basic password")
      .argument('<name>', 'deployment name'),
  ).action((name: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const info = await client.request<DeploymentInfo>('POST', apiPath('deployments', name, 'redeploy'));
      if (json) return printJson(info);
      printText(`Redeployed ${info.name}: revision ${info.revision} is live\n\n${renderDeployment(info)}`);
    }),
  );
}

/**
 * `deploy --basic-secret NAME` uses an existing secret: a typo must not silently make a new
 * secret (and a password nobody knows). `--generate-secret` asks for that explicitly.
 */
async function requireSecret(client: ManagementClient, secret: string): Promise<void> {
  const secrets = await listAll<SecretInfo>(client, apiPath('secrets'), 'secrets');
  if (secrets.some((s) => s.name === secret)) return;
  throw new ModelgateError(
    'CLI_USAGE',
    `there is no secret named "${secret}": create it with \`modelgate secrets create ${secret} --generate\` ` +
      '(or --value -), or add --generate-secret to create it with a generated value',
  );
}

/** A 409 on deploy means the name is taken: say how to change it instead. */
function explainExisting(err: unknown, name: string): unknown {
  if (!(err instanceof ApiRequestError) || err.httpStatus !== 409 || err.apiCode !== 'RESOURCE_CONFLICT') return err;
  return new ApiRequestError(
    err.httpStatus,
    err.apiCode,
    `${err.message}. To change it: ${UPDATE_USAGE.replace('NAME', name)}; ` +
      `to take its secret's current value: modelgate redeploy ${name}`,
  );
}

/** Builds the request body; `auth` only when a flag sets one of its settings. */
export function deployRequest(name: string, opts: DeployOptions): DeployRequest {
  const body: DeployRequest = { name, upstream: opts.upstream };
  if (opts.access !== undefined) body.access = opts.access;
  if (opts.infrastructure !== undefined) body.infrastructure = opts.infrastructure;
  if (opts.service !== undefined) body.service = opts.service;
  if (opts.version !== undefined) body.version = opts.version;
  const oidc = oidcFromFlags(opts);
  if (opts.basicSecret !== undefined || opts.forwardCredential || oidc || opts.credentials !== undefined) {
    body.auth = {
      basic_secret: opts.basicSecret ?? null,
      api_keys: true,
      forward_credential: opts.forwardCredential === true,
      ...(oidc ? { oidc } : {}),
      ...(opts.credentials === undefined ? {} : { credentials: credentialsSetting(opts.credentials) }),
    };
  }
  if (opts.apiKeys !== undefined) body.api_keys = opts.apiKeys;
  const rateLimit = rateLimitSetting(opts.rateLimit);
  if (rateLimit) body.rate_limit = rateLimit;
  return body;
}

function renderDeployResult(res: DeployResponse): string {
  const d = res.deployment;
  const parts = [`Deployed ${d.name} (revision ${d.revision}), served at /${d.name}/`, '', renderDeployment(d)];
  if (res.created.length > 0) parts.push('', `Created: ${res.created.join(', ')}`);
  if (res.generated_secret) {
    parts.push(
      '',
      `Generated value of secret ${res.generated_secret.name} (the Basic password), shown once; store it now:`,
      res.generated_secret.value,
    );
  }
  if (res.api_keys && res.api_keys.length > 0) {
    parts.push(
      '',
      'API keys, shown once here; store them now (send as Authorization: Bearer <key>; `modelgate api-keys reveal ID` shows one again):',
      renderTable(
        ['ID', 'KEY'],
        res.api_keys.map((k) => [k.id, k.key]),
      ),
    );
  }
  return parts.join('\n');
}
