import type { Principal, PrincipalKind } from '../auth/principal.js';

/** Who may read the audit log: the node's management key and admin keys (and, when token
 * authorization is off, everyone). Users with the global `admin` privilege join them later. */
const AUDIT_READERS: ReadonlySet<PrincipalKind> = new Set(['management_key', 'admin_key', 'anonymous']);

/**
 * Decides whether a principal may read the audit log.
 *
 * @example
 * ```ts
 * mayReadAudit({ kind: 'admin_key', id: 'adk_1' }); // true
 * ```
 */
export function mayReadAudit(principal: Principal): boolean {
  return AUDIT_READERS.has(principal.kind);
}
