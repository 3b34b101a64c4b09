import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import {
  type ApiKeyInfo,
  type ApiKeyWithKey,
  type ApiOptions,
  apiCommand,
  apiPath,
  listAll,
  positiveInteger,
  queryString,
  renderFields,
  withClient,
} from '../client.js';
import { parseDuration } from '../duration.js';
import { printCredential, printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';
import { credentialRateLimit, type RateLimitFlag, rateLimitSetting } from './rate-limit-flag.js';

interface OwnerOptions {
  readonly deployment?: string;
  readonly service?: string;
  readonly version?: string;
}

interface CreateOptions extends ApiOptions, OwnerOptions {
  readonly count?: number;
  readonly description?: string;
  readonly rateLimit?: RateLimitFlag;
}

/** Whose keys: one deployment's, or a service version's. */
export type ApiKeyOwner = { deployment: string } | { service: string; version: string };

/**
 * `modelgate api-keys create|list|reveal|roll|delete` (Dataiku API keys): several per deployment or
 * service version, all valid at once, sent as `Authorization: Bearer`.
 */
export function registerApiKeys(program: Command): void {
  const apiKeys = program.command('api-keys').description('Create, list, reveal and delete API keys');

  apiCommand(
    ownerOptions(
      apiKeys
        .command('create')
        .description('Create API keys for a deployment or a service version; the keys are printed once')
        .usage('(--deployment NAME | --service S --version V) [--count N] [--description TEXT] [options]'),
    )
      .option('--count <n>', 'how many keys to create (default: 1)', positiveInteger)
      .option('--description <text>', 'what the keys are for')
      .option(
        '--rate-limit <N/per>',
        "each key's own limit (a deployment's key: replacing the deployment's per-caller one; a version key's: within it): N/second, N/minute or N/hour",
        credentialRateLimit,
      ),
  ).action((opts: CreateOptions) =>
    withClient(opts, async (client, json) => {
      const owner = parseOwner(opts, true);
      const body: Record<string, unknown> = { ...owner };
      if (opts.count !== undefined) body.count = opts.count;
      if (opts.description !== undefined) body.description = opts.description;
      if (opts.rateLimit !== undefined) body.rate_limit = rateLimitSetting(opts.rateLimit);
      const res = await client.request<{ api_keys: ApiKeyWithKey[] }>('POST', apiPath('api-keys'), body);
      if (json) return printJson(res);
      // One key per line on stdout, in the order of the ids on stderr.
      printCredential(
        res.api_keys.map((k) => k.key).join('\n'),
        `Created ${res.api_keys.length} API key${res.api_keys.length === 1 ? '' : 's'} for ${ownerLabel(owner)} ` +
          `(${res.api_keys.map((k) => k.id).join(', ')}), printed once on stdout; store them now ` +
          '(send as Authorization: Bearer <key>; `modelgate api-keys reveal ID` shows one again)',
      );
    }),
  );

  apiCommand(
    ownerOptions(
      apiKeys
        .command('list')
        .description("List API keys (their prefixes, never the keys), all or one owner's")
        .usage('[--deployment NAME | --service S --version V] [options]'),
    ),
  ).action((opts: ApiOptions & OwnerOptions) =>
    withClient(opts, async (client, json) => {
      const owner = parseOwner(opts, false);
      const keys = await listAll<ApiKeyInfo>(client, `${apiPath('api-keys')}${queryString(owner ?? {})}`, 'api_keys');
      if (json) return printList(keys);
      if (keys.length === 0) return printText('No API keys.');
      const rows = keys.map((k) => [
        k.id,
        `${k.prefix}...`,
        k.deployment !== undefined ? `deployment:${k.deployment}` : `service:${k.service ?? '?'}@${k.version ?? '?'}`,
        k.description,
        k.created_at,
        k.state === 'retiring' || k.state === 'retired' ? `${k.state} ${k.retires_at}` : 'active',
        String(k.requests ?? 0),
        k.last_used_at ?? 'never',
      ]);
      printText(
        renderTable(['ID', 'PREFIX', 'OWNER', 'DESCRIPTION', 'CREATED', 'STATE', 'REQUESTS', 'LAST USED'], rows),
      );
    }),
  );

  apiCommand(
    apiKeys
      .command('reveal')
      .description('Print an API key again (table output prints the key alone, for scripts)')
      .argument('<id>', 'key id from `api-keys list`'),
  ).action((id: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const res = await client.request<ApiKeyWithKey>('GET', apiPath('api-keys', id, 'reveal'));
      if (json) return printJson(res);
      printText(res.key);
    }),
  );

  apiCommand(
    apiKeys
      .command('roll')
      .description('Roll an API key: print a successor; the old key works until the grace ends')
      .argument('<id>', 'key id from `api-keys list`')
      .option('--grace <duration>', 'how long the old key keeps working: 0, 90s, 30m, 1h, 7d', parseDuration, 0),
  ).action((id: string, opts: ApiOptions & { grace: number }) =>
    withClient(opts, async (client, json) => {
      const res = await client.request<ApiKeyWithKey & { predecessor: { id: string; retires_at: string } }>(
        'POST',
        apiPath('api-keys', id, 'roll'),
        { grace_seconds: opts.grace },
      );
      if (json) return printJson(res);
      printCredential(
        res.key,
        renderFields([
          ['id', res.id],
          ['old key', `${res.predecessor.id} refused from ${res.predecessor.retires_at}`],
        ]),
      );
    }),
  );

  apiCommand(
    apiKeys
      .command('delete')
      .description('Delete an API key; the gateway refuses it from the next request on')
      .argument('<id>', 'key id from `api-keys list`'),
  ).action((id: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath('api-keys', id));
      if (json) return printJson({ deleted: id });
      printText(`Deleted API key ${id}`);
    }),
  );
}

function ownerOptions(command: Command): Command {
  return command
    .option('--deployment <name>', "a deployment's keys")
    .option('--service <name>', "a service version's keys (with --version)")
    .option('--version <version>', "a service version's keys (with --service)");
}

/**
 * `--deployment NAME` or `--service S --version V`; with `required` false, none at all is fine
 * (every key). Anything else is a usage error.
 */
export function parseOwner(opts: OwnerOptions, required: true): ApiKeyOwner;
export function parseOwner(opts: OwnerOptions, required: false): ApiKeyOwner | undefined;
export function parseOwner(opts: OwnerOptions, required: boolean): ApiKeyOwner | undefined {
  const { deployment, service, version } = opts;
  const none = deployment === undefined && service === undefined && version === undefined;
  if (none && !required) return undefined;
  if (deployment !== undefined && service === undefined && version === undefined) return { deployment };
  if (deployment === undefined && service !== undefined && version !== undefined) return { service, version };
  throw new ModelgateError('CLI_USAGE', 'give either --deployment NAME, or --service S and --version V');
}

function ownerLabel(owner: ApiKeyOwner): string {
  return 'deployment' in owner ? `deployment ${owner.deployment}` : `service ${owner.service} version ${owner.version}`;
}
