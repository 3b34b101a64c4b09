import type { Command } from 'commander';
import type { ApiTokenInfo } from '../../controlplane/operations/api-tokens.js';
import { ModelgateError } from '../../kernel/errors.js';
import {
  type ApiOptions,
  apiCommand,
  apiPath,
  listAll,
  type ManagementClient,
  queryString,
  renderFields,
  withClient,
} from '../client.js';
import { parseDuration, parseExpiry } from '../duration.js';
import { printCredential, printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';
import { credentialRateLimit, type RateLimitFlag, rateLimitSetting } from './rate-limit-flag.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface CreateOptions extends ApiOptions {
  readonly description?: string;
  readonly ops?: boolean;
  readonly allDeployments?: boolean;
  readonly deployment?: string[];
  readonly expiresAt?: string;
  readonly rateLimit?: RateLimitFlag;
}

interface ListOptions extends ApiOptions {
  readonly user?: string;
  readonly all?: boolean;
}

/** Examples of `tokens create --help`; a test runs each. */
export const TOKENS_CREATE_EXAMPLES = `
Examples:
  $ T=$(modelgate tokens create ci --deployment demo --expires-at 90d)
  $ curl -H "Authorization: Bearer $T" http://127.0.0.1:8080/demo/ping`;

/**
 * `modelgate tokens create|list|roll|delete` (BentoCloud B1–B3, rotation X2): a person's own API tokens, with
 * Developer Operations access (`--ops`) and/or Protected Endpoint access (`--all-deployments` or
 * `--deployment NAME`...). The token is printed once.
 */
export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('Create, list and delete your API tokens');

  apiCommand(
    tokens
      .command('create')
      .description('Create an API token for yourself; it is printed once')
      .argument('<name>', 'a name for the token (unique among your tokens)')
      .option('--description <text>', 'what the token is for')
      .option('--ops', 'Developer Operations access: the management API, with your permissions')
      .option('--all-deployments', 'Protected Endpoint access to every deployment you may read')
      .option('--deployment <name>', 'Protected Endpoint access to this deployment (repeatable)', collect)
      .option(
        '--rate-limit <N/per>',
        "the token's own limit on each deployment it calls (N/second, N/minute or N/hour), within the deployment's",
        credentialRateLimit,
      )
      .option(
        '--expires-at <when>',
        'expiry: a duration from now (e.g. 90d) or an ISO-8601 time (default and maximum: api_token_default_ttl_s, api_token_max_ttl_s)',
        parseExpiry,
      )
      .addHelpText('after', TOKENS_CREATE_EXAMPLES),
  ).action((name: string, opts: CreateOptions) =>
    withClient(opts, async (client, json) => {
      if (opts.allDeployments && opts.deployment) {
        throw new ModelgateError('CLI_USAGE', 'give either --all-deployments or --deployment NAME..., not both');
      }
      const body: Record<string, unknown> = { name, ops_access: opts.ops === true };
      if (opts.description !== undefined) body.description = opts.description;
      if (opts.allDeployments) body.endpoint_access = { all: true };
      else if (opts.deployment) body.endpoint_access = { deployments: opts.deployment };
      if (opts.expiresAt !== undefined) body.expires_at = opts.expiresAt;
      if (opts.rateLimit !== undefined) body.rate_limit = rateLimitSetting(opts.rateLimit);
      const res = await client.request<ApiTokenInfo & { token: string }>('POST', apiPath('tokens'), body);
      if (json) return printJson(res);
      printCredential(
        res.token,
        `${renderFields([
          ['id', res.id],
          ['name', res.name],
          ['access', accessLabel(res)],
          ['expires_at', res.expires_at],
        ])}\nShown once: store it now (send as Authorization: Bearer <token>).`,
      );
    }),
  );

  apiCommand(
    tokens
      .command('list')
      .description('List your API tokens (prefixes, never the tokens); admins: --user NAME or --all')
      .option('--user <name>', "one user's tokens (admins)")
      .option('--all', "every user's tokens (admins)"),
  ).action((opts: ListOptions) =>
    withClient(opts, async (client, json) => {
      const all = await listTokens(client, { user: opts.user, all: opts.all ? 'true' : undefined });
      if (json) return printList(all);
      if (all.length === 0) return printText('No API tokens.');
      const rows = all.map((t) => [
        t.id,
        t.name,
        t.user,
        `${t.prefix}...`,
        accessLabel(t),
        t.created_at,
        t.expires_at,
        t.state === 'retiring' || t.state === 'retired' ? `${t.state} ${t.retires_at}` : 'active',
        t.last_used_at ?? 'never',
      ]);
      printText(
        renderTable(['ID', 'NAME', 'USER', 'PREFIX', 'ACCESS', 'CREATED', 'EXPIRES', 'STATE', 'LAST USED'], rows),
      );
    }),
  );

  apiCommand(
    tokens
      .command('roll')
      .description('Roll one of your tokens: print a successor; the old one works until the grace ends')
      .argument('<name>', 'the token name (or id) from `tokens list`')
      .option('--grace <duration>', 'how long the old token keeps working: 0, 90s, 30m, 24h, 7d', parseDuration, 0),
  ).action((name: string, opts: ApiOptions & { grace: number }) =>
    withClient(opts, async (client, json) => {
      const mine = await listTokens(client, {});
      const current = mine.find((t) => t.id === name) ?? mine.find((t) => t.name === name && t.state === 'active');
      if (!current) throw new ModelgateError('CLI_REQUEST_FAILED', `You have no current API token named "${name}"`);
      const res = await client.request<
        ApiTokenInfo & { token: string; predecessor: { id: string; retires_at: string } }
      >('POST', apiPath('tokens', current.id, 'roll'), { grace_seconds: opts.grace });
      if (json) return printJson(res);
      printCredential(
        res.token,
        `${renderFields([
          ['id', res.id],
          ['name', res.name],
          ['expires_at', res.expires_at],
          ['old token', `${res.predecessor.id} refused from ${res.predecessor.retires_at}`],
        ])}\nShown once: store it now.`,
      );
    }),
  );

  apiCommand(
    tokens
      .command('delete')
      .description('Delete an API token; it is refused from the next request on')
      .argument('<id>', 'token id from `tokens list`'),
  ).action((id: string, opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      await client.request('DELETE', apiPath('tokens', id));
      if (json) return printJson({ deleted: id });
      printText(`Deleted API token ${id}`);
    }),
  );
}

/** Every page of `GET /api/v1/tokens` with these filters. */
async function listTokens(client: ManagementClient, filter: { user?: string; all?: string }): Promise<ApiTokenInfo[]> {
  const path = `${apiPath('tokens')}${queryString(filter)}`;
  return listAll<ApiTokenInfo>(client, path, 'tokens');
}

/** `ops`, `endpoints:all`, `endpoints:a,b`, joined with `+`. */
function accessLabel(token: Pick<ApiTokenInfo, 'ops_access' | 'endpoint_access'>): string {
  const parts: string[] = [];
  if (token.ops_access) parts.push('ops');
  const endpoint = token.endpoint_access;
  if (endpoint) parts.push('all' in endpoint ? 'endpoints:all' : `endpoints:${endpoint.deployments.join(',')}`);
  return parts.join('+');
}
