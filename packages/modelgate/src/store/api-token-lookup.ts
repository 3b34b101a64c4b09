import { type EndpointAccess, readEndpointAccess, type TokenLife } from '../kernel/endpoint-access.js';
import { type RateLimit, storedRateLimit } from '../kernel/rate-limit.js';
import type { Store } from './database.js';

/** A stored API token as the verifiers need it: its owner, its access and its life. */
export interface StoredToken extends TokenLife {
  readonly id: string;
  readonly user_id: string;
  readonly username: string;
  readonly ops: boolean;
  readonly endpoint: EndpointAccess | null;
  /** The token's own rate limit (X3), null for none. */
  readonly rateLimit: RateLimit | null;
}

/** The token with this credential hash, joined with its owner; undefined when there is none. */
export function findTokenByHash(store: Store, hash: string): Promise<StoredToken | undefined> {
  return findToken(store, 'hash', hash);
}

/**
 * The token with this id, joined with its owner; undefined when there is none. For what keeps no
 * secret, such as an open WebSocket relay re-checked after its owner's access changed.
 */
export function findTokenById(store: Store, id: string): Promise<StoredToken | undefined> {
  return findToken(store, 'id', id);
}

async function findToken(store: Store, column: 'hash' | 'id', value: string): Promise<StoredToken | undefined> {
  const row = await store.db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select([
      'api_tokens.id as id',
      'api_tokens.user_id as user_id',
      'api_tokens.ops_access as ops_access',
      'api_tokens.endpoint_access as endpoint_access',
      'api_tokens.expires_at as expires_at',
      'api_tokens.retires_at as retires_at',
      'api_tokens.rate_limit as rate_limit',
      'users.username as username',
      'users.disabled as disabled',
    ])
    .where(`api_tokens.${column}`, '=', value)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    user_id: row.user_id,
    username: row.username,
    ops: Number(row.ops_access) === 1,
    endpoint: readEndpointAccess(row.endpoint_access),
    expiresAt: Date.parse(row.expires_at),
    retiresAt: row.retires_at === null ? null : Date.parse(row.retires_at),
    ownerDisabled: Number(row.disabled) !== 0,
    rateLimit: storedRateLimit(row.rate_limit),
  };
}
