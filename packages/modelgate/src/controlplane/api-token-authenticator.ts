import type { ParsedCredential } from '../kernel/credential.js';
import { type Denial, deny } from '../kernel/denial.js';
import { lifeDenial } from '../kernel/endpoint-access.js';
import type { Principal } from '../kernel/principal.js';
import { findTokenByHash } from '../store/api-token-lookup.js';
import type { Store } from '../store/database.js';

/**
 * Verifies an API token on the management API: with Developer Operations access it acts as its
 * owner (a `user` principal, so the permission model applies exactly as to the owner's session);
 * an endpoint-only token is 403. Read from the store on every request, like sessions, so a
 * deleted token, a disabled owner or an expiry is in force at once on every process.
 *
 * @example
 * ```ts
 * const principal = await verifyOpsToken(store, parseCredential(bearer)!); // { kind: 'user', id, token }
 * ```
 */
export async function verifyOpsToken(
  store: Store,
  credential: ParsedCredential,
  now: number = Date.now(),
): Promise<Principal | Denial> {
  const token = await findTokenByHash(store, credential.hash);
  if (!token) return deny('unknown');
  const refused = lifeDenial(token, now);
  if (refused) return refused;
  if (!token.ops) return deny('forbidden', 'This API token has no Developer Operations access');
  return { kind: 'user', id: token.user_id, name: token.username, token: token.id };
}
