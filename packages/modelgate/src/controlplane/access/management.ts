import type { Principal, PrincipalKind } from '../../kernel/principal.js';

/**
 * What a management-listener route needs: `public` (health, OpenAPI), `management` (the
 * control API) or `token_api` (TorchServe's `/token`, only for the node's API key).
 */
export type ManagementRouteClass = 'public' | 'management' | 'token_api';

/**
 * The kinds of caller the control API answers (`whoami` can name): node management key, admin
 * keys, signed-in users (a session or an ops API token) and, with token authorization off, anyone.
 */
export const MANAGEMENT_PRINCIPAL_KINDS = [
  'anonymous',
  'management_key',
  'admin_key',
  'user',
] as const satisfies readonly PrincipalKind[];

const ALLOWED: Record<Exclude<ManagementRouteClass, 'public'>, ReadonlySet<PrincipalKind>> = {
  management: new Set(MANAGEMENT_PRINCIPAL_KINDS),
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
