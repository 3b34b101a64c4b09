import type { Principal, PrincipalKind } from '../auth/principal.js';

/** What a platform JWT is issued for (or revoked on): one deployment, or a whole infrastructure. */
export interface JwtTarget {
  readonly type: 'deployment' | 'infrastructure';
  readonly id: string;
  readonly name: string;
}

/** Today's full-control principals; `anonymous` exists only when token authorization is off. */
const FULL_CONTROL: ReadonlySet<PrincipalKind> = new Set(['management_key', 'admin_key', 'anonymous']);

/**
 * Whether a principal may read a target, and so issue platform JWTs for it (Scaleway: whoever
 * may read the namespace). The one place this is decided; it is to be wired to the permissions
 * model (issue 8) when that lands, which is why the target is already passed in.
 *
 * @example
 * ```ts
 * mayIssueJwtFor({ kind: 'admin_key', id: 'ak_1' }, { type: 'deployment', id: 'dep_1', name: 'demo' }); // true
 * ```
 */
export function mayIssueJwtFor(principal: Principal, _target: JwtTarget): boolean {
  return FULL_CONTROL.has(principal.kind);
}
