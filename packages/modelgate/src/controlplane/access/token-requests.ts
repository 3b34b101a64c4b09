import { decide } from '../../kernel/permissions.js';
import type { Principal } from '../../kernel/principal.js';
import { notFound } from '../../kernel/validation.js';
import type { ApiTokensTable } from '../../store/schema.js';
import { tokenNotFound } from '../operations/api-tokens.js';
import type { ControlContext } from '../operations/context.js';
import { actorOf, denialOf } from './authorize.js';

/**
 * Whose tokens a listing shows. A user sees its own by default; `?user=NAME` (someone else) and
 * `?all=true` need the global admin privilege. Keys and anonymous callers own no tokens: they
 * see everyone's (they are superusers).
 *
 * @example
 * ```ts
 * await tokenListScope(ctx, req.principal, { all: 'true' }); // {} (everyone's) or MISSING_GLOBAL_ADMIN
 * ```
 */
export async function tokenListScope(
  ctx: ControlContext,
  principal: Principal,
  query: { readonly user?: string; readonly all?: string },
): Promise<{ userId?: string }> {
  const self = principal.kind === 'user' ? principal : undefined;
  if (query.user !== undefined && self && query.user === self.name) return { userId: self.id };
  if (query.user === undefined && query.all !== 'true' && self) return { userId: self.id };
  const decision = decide(await actorOf(ctx, principal), { global: 'admin' });
  if (!decision.allowed) throw denialOf(decision);
  if (query.user === undefined) return {};
  const user = await ctx.store.db
    .selectFrom('users')
    .select('id')
    .where('username', '=', query.user)
    .executeTakeFirst();
  if (!user) throw notFound('user', query.user);
  return { userId: user.id };
}

/**
 * A token may be deleted (or rolled) by its owner and by global admins. Anyone else gets the same
 * 404 as for a token that does not exist, so ids of other people's tokens reveal nothing.
 */
export async function authorizeTokenChange(ctx: ControlContext, principal: Principal, token: ApiTokensTable) {
  if (principal.kind === 'user' && principal.id === token.user_id) return;
  const decision = decide(await actorOf(ctx, principal), { global: 'admin' });
  if (!decision.allowed) {
    throw denialOf({ allowed: false, denied: 'hidden', type: 'service', name: token.id }, tokenNotFound(token.id));
  }
}

/**
 * Only the owner may roll a token: the successor is shown to whoever rolls it, and a token
 * acts as its owner, so an admin rolling someone else's would get a credential to act as them.
 * Anyone else gets the 404 of a token that does not exist.
 */
export function authorizeTokenRoll(principal: Principal, token: ApiTokensTable): void {
  if (principal.kind === 'user' && principal.id === token.user_id) return;
  throw denialOf({ allowed: false, denied: 'hidden', type: 'service', name: token.id }, tokenNotFound(token.id));
}
