import type { Config } from '../../config/schema.js';
import { displayPrefix, generateCredential, hashCredential } from '../../kernel/credential.js';
import type { EndpointAccess } from '../../kernel/endpoint-access.js';
import { readEndpointAccess } from '../../kernel/endpoint-access.js';
import { ModelgateError } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/principal.js';
import { parseRateLimit, type RateLimit, storedRateLimit } from '../../kernel/rate-limit.js';
import { type RotationState, rotationState } from '../../kernel/rotation.js';
import { TOPICS } from '../../kernel/topics.js';
import {
  DESCRIPTION_RULE,
  isDescription,
  NAME_PATTERN,
  newId,
  Problems,
  SECRET_NAME_PATTERN,
} from '../../kernel/validation.js';
import { type CredentialUsage, credentialUsageOf, deleteCredentialUsage } from '../../store/credential-usage.js';
import type { ApiTokensTable } from '../../store/schema.js';
import { lockForUpdate } from '../../store/transaction.js';
import { authorizeDeployment } from '../access/authorize.js';
import { announce, type ControlContext, nowMs } from './context.js';
import { parseInstant } from './jwt.js';
import { rollCredential } from './rotation.js';
import { transact } from './transaction.js';

export type ApiTokenSettings = Pick<Config, 'api_token_default_ttl_s' | 'api_token_max_ttl_s'>;

/** At most this many deployments in one token's list. */
export const MAX_TOKEN_DEPLOYMENTS = 100;

/** A token as lists show it: never the secret, never its hash. */
export interface ApiTokenInfo {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  /** The owner's username. */
  readonly user: string;
  readonly prefix: string;
  readonly ops_access: boolean;
  readonly endpoint_access: EndpointAccess | null;
  readonly created_at: string;
  readonly expires_at: string;
  /** Filled by the node's usage recorder; null until first use. */
  /** Requests made with the token, as of the data plane's last usage flush (a few seconds behind). */
  readonly requests: number;
  /** When the token was last used (same delay); null when never. */
  readonly last_used_at: string | null;
  /** `retiring` after a roll until its grace ends, then `retired` (refused). */
  readonly state: RotationState;
  readonly retires_at: string | null;
  /** The token's own rate limit (X3), null for none. */
  readonly rate_limit: RateLimit | null;
}

/** What `POST /api/v1/tokens` takes. */
export interface CreateTokenInput {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly ops_access?: unknown;
  readonly endpoint_access?: unknown;
  readonly expires_at?: unknown;
  readonly rate_limit?: unknown;
}

/**
 * Validates `endpoint_access`: `{"all": true}` or `{"deployments": [names]}` (1 to 100 distinct
 * deployment names). Absent or null means no endpoint access.
 *
 * @example
 * ```ts
 * parseEndpointAccess(new Problems(), { deployments: ['churn'] }); // { deployments: ['churn'] }
 * ```
 */
export function parseEndpointAccess(problems: Problems, value: unknown): EndpointAccess | null {
  if (value === undefined || value === null) return null;
  const shape = typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const keys = shape ? Object.keys(shape) : [];
  if (shape && keys.length === 1 && shape.all === true) return { all: true };
  const list = shape && keys.length === 1 ? shape.deployments : undefined;
  const ok =
    Array.isArray(list) &&
    list.length >= 1 &&
    list.length <= MAX_TOKEN_DEPLOYMENTS &&
    list.every((d) => typeof d === 'string' && NAME_PATTERN.test(d));
  problems.check(
    ok,
    `endpoint_access must be {"all": true} or {"deployments": [1-${MAX_TOKEN_DEPLOYMENTS} deployment names]}`,
    'endpoint_access',
  );
  return ok ? { deployments: [...new Set(list as string[])] } : null;
}

/**
 * When a new token expires: `expires_at` if given (in the future, at most `api_token_max_ttl_s`
 * away), else `api_token_default_ttl_s` from now (capped by the maximum). Epoch ms, or a problem.
 */
export function tokenExpiry(problems: Problems, settings: ApiTokenSettings, now: number, requested: unknown): number {
  const at = parseInstant(problems, 'expires_at', requested);
  const maxMs = settings.api_token_max_ttl_s * 1000;
  const expires = at ?? now + Math.min(settings.api_token_default_ttl_s * 1000, maxMs);
  problems.check(expires > now, 'expires_at must be in the future', 'expires_at');
  problems.check(
    expires - now <= maxMs,
    `expires_at may be at most ${settings.api_token_max_ttl_s} seconds from now (api_token_max_ttl_s)`,
    'expires_at',
  );
  return expires;
}

/**
 * Creates an API token for the calling user (B1, B2). @returns the token in plain, shown this
 * once: only its SHA-256 is stored. Each listed deployment must exist and be readable by the
 * caller (else the same 404 as for a missing one).
 */
export async function createApiToken(
  ctx: ControlContext,
  settings: ApiTokenSettings,
  caller: Principal,
  input: CreateTokenInput,
): Promise<ApiTokenInfo & { token: string }> {
  if (caller.kind !== 'user') {
    throw new ModelgateError('USER_REQUIRED', 'API tokens belong to a user: sign in, or use an ops API token');
  }
  const problems = new Problems();
  problems.check(
    typeof input.name === 'string' && SECRET_NAME_PATTERN.test(input.name),
    'name must be 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit',
    'name',
  );
  problems.check(
    input.description === undefined || isDescription(input.description),
    `description ${DESCRIPTION_RULE}`,
    'description',
  );
  problems.check(
    input.ops_access === undefined || typeof input.ops_access === 'boolean',
    'ops_access must be true or false',
    'ops_access',
  );
  const endpoint = parseEndpointAccess(problems, input.endpoint_access);
  const now = nowMs(ctx);
  const expires = tokenExpiry(problems, settings, now, input.expires_at);
  const rateLimit = parseRateLimit(problems, 'rate_limit', input.rate_limit, false);
  problems.throwIfAny();
  const ops = input.ops_access === true;
  if (!ops && endpoint === null) {
    throw new ModelgateError('TOKEN_ACCESS_REQUIRED', undefined, { details: ['ops_access', 'endpoint_access'] });
  }
  if (endpoint && 'deployments' in endpoint) {
    for (const name of endpoint.deployments) await authorizeDeployment(ctx, caller, name, 'read');
  }
  const name = input.name as string;
  return transact(ctx, async (tx) => {
    const taken = await tx.store.db
      .selectFrom('api_tokens')
      .select('id')
      .where('user_id', '=', caller.id)
      .where('name', '=', name)
      .where('retires_at', 'is', null)
      .executeTakeFirst();
    if (taken) {
      throw new ModelgateError('RESOURCE_CONFLICT', `You already have an API token named "${name}"`);
    }
    const token = generateCredential('api_token');
    const row: ApiTokensTable = {
      id: newId('tok'),
      user_id: caller.id,
      name,
      description: (input.description as string | undefined) ?? '',
      prefix: displayPrefix(token),
      hash: hashCredential(token),
      ops_access: ops ? 1 : 0,
      endpoint_access: endpoint === null ? null : JSON.stringify(endpoint),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(expires).toISOString(),
      last_used_at: null,
      retires_at: null,
      predecessor_id: null,
      rate_limit: rateLimit ? JSON.stringify(rateLimit) : null,
    };
    await tx.store.db.insertInto('api_tokens').values(row).execute();
    return { ...describe(row, caller.name ?? ''), token };
  });
}

/** Where a page of tokens starts: after this (created_at, id). */
export interface TokenPosition {
  readonly created_at: string;
  readonly id: string;
}

/**
 * Lists tokens, oldest first, `limit` at a time after `after`: one user's (`userId`) or
 * everyone's. @returns the page and the position of its last row when more follow (one row more
 * than the page is read to know, so the last page has no cursor, as the API documents).
 */
export async function listApiTokens(
  ctx: ControlContext,
  filter: { readonly userId?: string },
  page: { readonly limit: number; readonly after?: TokenPosition },
): Promise<{ tokens: ApiTokenInfo[]; last: TokenPosition | undefined }> {
  let query = ctx.store.db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .selectAll('api_tokens')
    .select('users.username as username')
    .orderBy('api_tokens.created_at')
    .orderBy('api_tokens.id')
    .limit(page.limit + 1);
  if (filter.userId !== undefined) query = query.where('api_tokens.user_id', '=', filter.userId);
  const after = page.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('api_tokens.created_at', '>', after.created_at),
        eb.and([eb('api_tokens.created_at', '=', after.created_at), eb('api_tokens.id', '>', after.id)]),
      ]),
    );
  }
  const read = await query.execute();
  const rows = read.slice(0, page.limit);
  const tail = rows.at(-1);
  const usage = await credentialUsageOf(
    ctx.store,
    USAGE_KIND,
    rows.map((r) => r.id),
  );
  return {
    tokens: rows.map((r) => describe(r, r.username, usage.get(r.id))),
    last: tail && read.length > page.limit ? { created_at: tail.created_at, id: tail.id } : undefined,
  };
}

/**
 * The lifetime of a rolled token's successor: as long as the original was given, from now, and
 * never beyond `api_token_max_ttl_s` (the maximum may have been lowered since).
 */
export function successorExpiry(
  old: Pick<ApiTokensTable, 'created_at' | 'expires_at'>,
  settings: ApiTokenSettings,
  now: number,
): number {
  const lifetime = Date.parse(old.expires_at) - Date.parse(old.created_at);
  return now + Math.min(lifetime, settings.api_token_max_ttl_s * 1000);
}

/**
 * Rolls a token (X2): a successor with the same owner, name, description, access and rate limit, a fresh
 * lifetime as long as the original's, and the old token retiring `graceSeconds` from now (0: at
 * once; never after its own expiry). The old row is locked and must be current, so two parallel
 * rolls make one successor and the other gets 409 `CREDENTIAL_ALREADY_ROLLED`. Tokens of the
 * same owner whose grace ended are removed on the way. @returns the new token, shown this once.
 */
export async function rollApiToken(
  ctx: ControlContext,
  settings: ApiTokenSettings,
  id: string,
  graceSeconds: unknown,
): Promise<ApiTokenInfo & { token: string; predecessor: { id: string; retires_at: string } }> {
  return rollCredential(ctx, id, graceSeconds, {
    what: 'API token',
    topic: TOPICS.apiTokenRolled,
    lock: (tx, tokenId) => getTokenRow(tx, tokenId, true),
    retiresAt(old, now, graceMs) {
      if (now >= Date.parse(old.expires_at)) {
        throw new ModelgateError('VALIDATION_FAILED', 'An expired API token cannot be rolled; create a new one');
      }
      // Never later than the token's own expiry.
      return Math.min(now + graceMs, Date.parse(old.expires_at));
    },
    async succeed(tx, old, retiresAt, now) {
      // Tokens of this user whose grace has ended are gone for good: drop their rows.
      await tx.store.db
        .deleteFrom('api_tokens')
        .where('user_id', '=', old.user_id)
        .where('retires_at', '<=', new Date(now).toISOString())
        .execute();
      await tx.store.db.updateTable('api_tokens').set({ retires_at: retiresAt }).where('id', '=', old.id).execute();
      const token = generateCredential('api_token');
      const row: ApiTokensTable = {
        ...old,
        id: newId('tok'),
        prefix: displayPrefix(token),
        hash: hashCredential(token),
        created_at: new Date(now).toISOString(),
        expires_at: new Date(successorExpiry(old, settings, now)).toISOString(),
        last_used_at: null,
        retires_at: null,
        predecessor_id: old.id,
      };
      await tx.store.db.insertInto('api_tokens').values(row).execute();
      const owner = await tx.store.db
        .selectFrom('users')
        .select('username')
        .where('id', '=', old.user_id)
        .executeTakeFirst();
      return { ...describe(row, owner?.username ?? ''), token };
    },
  });
}

/** A token's row by id, or the ordinary 404; `lock` holds it until commit (PostgreSQL). */
export async function getTokenRow(ctx: ControlContext, id: string, lock = false): Promise<ApiTokensTable> {
  const query = ctx.store.db.selectFrom('api_tokens').selectAll().where('id', '=', id);
  const row = await (lock ? lockForUpdate(ctx.store, query) : query).executeTakeFirst();
  if (!row) throw tokenNotFound(id);
  return row;
}

export function tokenNotFound(id: string): ModelgateError {
  return new ModelgateError('RESOURCE_NOT_FOUND', `No API token with id "${id}"`);
}

/** Deletes a token (B3): every gateway and the management API refuse it from the next request (X1). */
export async function deleteApiToken(ctx: ControlContext, id: string): Promise<void> {
  await transact(ctx, async (tx) => {
    const row = await getTokenRow(tx, id);
    await tx.store.db.deleteFrom('api_tokens').where('id', '=', row.id).execute();
    await deleteCredentialUsage(tx.store, USAGE_KIND, row.id);
    await announce(tx, TOPICS.apiTokenDeleted, row.id);
  });
}

/** The usage kind of API tokens in `credential_usage` (their principal kind). */
const USAGE_KIND = 'api_token';

function describe(row: ApiTokensTable, username: string, usage?: CredentialUsage): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    user: username,
    prefix: row.prefix,
    ops_access: Number(row.ops_access) === 1,
    endpoint_access: readEndpointAccess(row.endpoint_access),
    created_at: row.created_at,
    expires_at: row.expires_at,
    requests: usage?.requests ?? 0,
    last_used_at: usage?.last_used_at ?? row.last_used_at,
    state: rotationState(row.retires_at, Date.now()),
    retires_at: row.retires_at,
    rate_limit: storedRateLimit(row.rate_limit),
  };
}
