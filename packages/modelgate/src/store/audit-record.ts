import type { Principal } from '../kernel/principal.js';
import type { AuditLogTable } from './schema.js';

/** Where a recorded request arrived. */
export type AuditListener = AuditLogTable['listener'];
export type AuditOutcome = AuditLogTable['outcome'];

/** One audit record before it is stored: every field is a name, an id, a code or a number. */
export type AuditRecord = Omit<AuditLogTable, 'id'>;

/** The statuses that mean "refused": the caller was not let do it. */
const DENIED_STATUSES: ReadonlySet<number> = new Set([401, 403, 429]);

/**
 * The outcome of an answered request: `denied` for 401/403/429 (and a 404 that hides a target the
 * caller may not read, when the route says so), `allowed` for 1xx-3xx, `failed` otherwise.
 *
 * @example
 * ```ts
 * outcomeOf(201); // 'allowed'
 * outcomeOf(404, true); // 'denied'
 * ```
 */
export function outcomeOf(status: number, hidden = false): AuditOutcome {
  if (DENIED_STATUSES.has(status) || (hidden && status === 404)) return 'denied';
  return status < 400 ? 'allowed' : 'failed';
}

/** True when a status is a refusal the audit log keeps, whatever the method. */
export function isRefusal(status: number): boolean {
  return DENIED_STATUSES.has(status);
}

/** The actor columns of a principal. */
export function actorOf(principal: Principal): Pick<AuditRecord, 'actor' | 'actor_kind'> {
  return { actor: principal.id, actor_kind: principal.kind };
}
