import type { Command } from 'commander';
import { ModelgateError } from '../../kernel/errors.js';
import { type ApiOptions, apiCommand, apiPath, listAll, queryString, renderFields, withClient } from '../client.js';
import { parseExpiry } from '../duration.js';
import { printCredential, printJson, printList, printText } from '../output.js';
import { renderTable } from '../table.js';

interface TargetOptions extends ApiOptions {
  readonly deployment?: string;
  readonly infrastructure?: string;
}

/** `{deployment}` or `{infrastructure}`, exactly one (a usage error otherwise). */
function target(opts: TargetOptions): { deployment?: string; infrastructure?: string } {
  if ((opts.deployment === undefined) === (opts.infrastructure === undefined)) {
    throw new ModelgateError('CLI_USAGE', 'Give either --deployment NAME or --infrastructure NAME');
  }
  return opts.deployment !== undefined ? { deployment: opts.deployment } : { infrastructure: opts.infrastructure! };
}

const targetFlags = (command: Command) =>
  command
    .option('--deployment <name>', 'one deployment')
    .option('--infrastructure <name>', 'every deployment in an infrastructure');

/** Examples of `jwt issue --help`; a test runs each. */
export const JWT_ISSUE_EXAMPLES = `
Examples:
  $ T=$(modelgate jwt issue --deployment demo --expires-at 7d)
  $ curl -H "Authorization: Bearer $T" http://127.0.0.1:8080/demo/ping`;

/**
 * `modelgate jwt issue|revoke` (platform JWTs, Scaleway S2–S4 and revocation X1) and
 * `modelgate signing-keys list|rotate`.
 */
export function registerJwt(program: Command): void {
  const jwt = program
    .command('jwt')
    .description('Issue and revoke platform JWTs (scoped to a deployment or infrastructure)');

  apiCommand(
    targetFlags(jwt.command('issue'))
      .description('Issue a platform JWT; it is printed once and not stored')
      .option(
        '--expires-at <when>',
        'expiry: a duration from now (e.g. 7d, 12h) or an ISO-8601 time (default and maximum: jwt_default_ttl_s, jwt_max_ttl_s)',
        parseExpiry,
      )
      .addHelpText('after', JWT_ISSUE_EXAMPLES),
  ).action((opts: TargetOptions & { expiresAt?: string }) =>
    withClient(opts, async (client, json) => {
      const query = queryString({ ...target(opts), expires_at: opts.expiresAt });
      const res = await client.request<{ token: string; jti: string; expires_at: string }>(
        'GET',
        `${apiPath('issue-jwt')}${query}`,
      );
      if (json) return printJson(res);
      printCredential(
        res.token,
        renderFields([
          ['jti', res.jti],
          ['expires_at', res.expires_at],
        ]),
      );
    }),
  );

  apiCommand(
    targetFlags(jwt.command('revoke'))
      .description('Revoke one token (--jti) or every token of a target issued before a time')
      .option('--jti <id>', 'the token id printed by `jwt issue`')
      .option('--issued-before <iso>', 'with --deployment or --infrastructure: ISO-8601 (default now)'),
  ).action((opts: TargetOptions & { jti?: string; issuedBefore?: string }) =>
    withClient(opts, async (client, json) => {
      const body =
        opts.jti !== undefined
          ? { jti: opts.jti }
          : { ...target(opts), ...(opts.issuedBefore ? { issued_before: opts.issuedBefore } : {}) };
      const res = await client.request<Record<string, unknown>>('POST', apiPath('jwt-revocations'), body);
      if (json) return printJson(res);
      printText(`Revoked (${res.id}); refused from the next request on`);
    }),
  );

  const keys = program.command('signing-keys').description('The node’s platform JWT signing keys');
  type KeyRow = { kid: string; alg: string; created_at: string; retired_at: string | null };
  apiCommand(keys.command('list').description('List signing keys (public facts only)')).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const keys = await listAll<KeyRow>(client, apiPath('signing-keys'), 'signing_keys');
      if (json) return printList(keys);
      printText(table(keys));
    }),
  );
  apiCommand(
    keys
      .command('rotate')
      .description('Make a new current key; retired keys stay in the JWKS until their tokens have expired'),
  ).action((opts: ApiOptions) =>
    withClient(opts, async (client, json) => {
      const res = await client.request<{ kid: string; signing_keys: KeyRow[] }>(
        'POST',
        apiPath('signing-keys', 'rotate'),
      );
      if (json) return printJson(res);
      printText(`New current key ${res.kid}\n${table(res.signing_keys)}`);
    }),
  );
}

function table(rows: readonly { kid: string; alg: string; created_at: string; retired_at: string | null }[]): string {
  return renderTable(
    ['KID', 'ALG', 'CREATED', 'RETIRED'],
    rows.map((r) => [r.kid, r.alg, r.created_at, r.retired_at ?? '-']),
  );
}
