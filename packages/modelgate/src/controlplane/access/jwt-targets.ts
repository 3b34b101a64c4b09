import type { Principal } from '../../kernel/principal.js';
import type { ControlContext } from '../operations/context.js';
import { authorize, authorizeDeployment } from './authorize.js';

/** What a platform JWT is issued for (or revoked on): one deployment, or a whole infrastructure. */
export interface JwtTarget {
  readonly type: 'deployment' | 'infrastructure';
  readonly id: string;
  readonly name: string;
}

/**
 * Authorizes platform-JWT work on a target through the permission module, and throws its denial
 * (a hidden target is the same 404 as a missing one). Issuing needs `read` (Scaleway: whoever may
 * read the namespace): deployment read = service read ∧ infrastructure view, an infrastructure
 * needs `view`. Revoking by target needs `deploy` on it, since it cuts other people's callers.
 * Node keys and admin keys hold every right.
 *
 * @example
 * ```ts
 * await authorizeJwtTarget(ctx, req.principal, { type: 'deployment', id: 'dep_1', name: 'demo' }, 'read');
 * ```
 */
export async function authorizeJwtTarget(
  ctx: ControlContext,
  principal: Principal,
  target: JwtTarget,
  right: 'read' | 'deploy',
): Promise<void> {
  if (target.type === 'deployment') {
    await authorizeDeployment(ctx, principal, target.name, right);
    return;
  }
  await authorize(ctx, principal, { infrastructure: target.name, right: right === 'read' ? 'view' : 'deploy' });
}

/**
 * Revoking one token by its `jti` names no target the permission module could check, and a jti
 * may belong to anyone's token: only global admins (keys, users with `admin`) may.
 */
export async function authorizeJtiRevocation(ctx: ControlContext, principal: Principal): Promise<void> {
  await authorize(ctx, principal, { global: 'admin' });
}
