import { canSeeDeployment, effectiveRights } from '../../kernel/permissions.js';
import type { Principal } from '../../kernel/principal.js';
import { placesQuery } from '../../store/deployment-place.js';
import type { ApiKeyInfo, ApiKeyOwner } from '../operations/api-keys.js';
import type { ControlContext } from '../operations/context.js';
import { actorOf, authorize, authorizeDeployment } from './authorize.js';

/**
 * API keys follow their owner: a deployment's keys need `read` on it to list or reveal and
 * `deploy` on both its service and infrastructure to create or delete; a service version's
 * keys need the same right on the service.
 */
export async function authorizeKeyOwner(
  ctx: ControlContext,
  principal: Principal,
  owner: ApiKeyOwner,
  right: 'read' | 'deploy',
): Promise<void> {
  if ('deployment' in owner) return authorizeDeployment(ctx, principal, owner.deployment, right);
  await authorize(ctx, principal, { service: owner.service, right });
}

/** The keys of a listing the caller may read (listings never show what cannot be read). */
export async function visibleKeys(
  ctx: ControlContext,
  principal: Principal,
  keys: readonly ApiKeyInfo[],
): Promise<ApiKeyInfo[]> {
  const actor = await actorOf(ctx, principal);
  if (actor.superuser) return [...keys];
  const places = new Map((await placesQuery(ctx.store).execute()).map((r) => [r.name, r]));
  return keys.filter((k) => {
    if (k.deployment !== undefined) {
      const place = places.get(k.deployment);
      return place !== undefined && canSeeDeployment(actor, place);
    }
    return k.service !== undefined && effectiveRights(actor, 'service', k.service).has('read');
  });
}
