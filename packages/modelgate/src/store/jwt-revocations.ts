import type { ScopeClaim } from '../kernel/jwt-claims.js';
import type { Store } from './database.js';
import type { JwtRevocationsTable } from './schema.js';

/** What a revocation is matched against: a verified token's id, issue time and scope. */
export interface RevocableToken {
  readonly jti: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  readonly scope: ScopeClaim;
}

export type Revocation = Pick<JwtRevocationsTable, 'jti' | 'target_type' | 'target_id' | 'issued_before'>;

/**
 * Whether a revocation applies: the same `jti`, or a token for that target issued at or before
 * `issued_before`. An infrastructure revocation covers its deployment-scoped tokens too; a
 * deployment revocation leaves infrastructure-wide tokens alone (they open other deployments).
 */
export function isRevokedBy(token: RevocableToken, revocation: Revocation): boolean {
  if (revocation.jti !== null) return revocation.jti === token.jti;
  if (revocation.issued_before === null) return false;
  if (token.iat * 1000 > Date.parse(revocation.issued_before)) return false;
  if (revocation.target_type === 'infrastructure') return token.scope.infrastructure_id === revocation.target_id;
  if (revocation.target_type === 'deployment') return token.scope.deployment_id === revocation.target_id;
  return false;
}

/** The revocations that can still match a token live at `nowMs` (older ones are deleted on the way). */
export async function loadLiveRevocations(store: Store, nowMs: number): Promise<Revocation[]> {
  const now = new Date(nowMs).toISOString();
  await store.db.deleteFrom('jwt_revocations').where('expires_at', '<', now).execute();
  return store.db.selectFrom('jwt_revocations').select(['jti', 'target_type', 'target_id', 'issued_before']).execute();
}
