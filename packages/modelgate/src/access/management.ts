import type { Principal, PrincipalKind } from '../auth/principal.js';

/**
 * What a management-listener route needs: `public` (health, OpenAPI), `management` (the
 * control API) or `token_api` (TorchServe's `/token`, only for the node's API key).
 */
export type ManagementRouteClass = 'public' | 'management' | 'token_api';

const ALLOWED: Record<Exclude<ManagementRouteClass, 'public'>, ReadonlySet<PrincipalKind>> = {
  management: new Set(['management_key', 'admin_key', 'anonymous', 'user']),
  token_api: new Set(['token_api_key', 'anonymous']),
};

/**
 * Decides whether a verified principal may use a class of management route. `anonymous` only
 * exists when token authorization is disabled.
 *
 * @example
 * ```ts
 * mayUseManagementRoute({ kind: 'inference_key', id: 'node:inference' }, 'management'); // false
 * ```
 */
export function mayUseManagementRoute(principal: Principal, route: ManagementRouteClass): boolean {
  return route === 'public' || ALLOWED[route].has(principal.kind);
}
