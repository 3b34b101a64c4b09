import { base64url } from 'jose';

/**
 * The shape of a platform JWT, in one place: what the node signs and what the gateway (and an
 * upstream verifying forwarded tokens) checks.
 */

/** `typ` header of platform JWTs; a token of another type (an ID token, say) is refused. */
export const PLATFORM_JWT_TYPE = 'modelgate+jwt';

/** `aud` of platform JWTs: the node's inference listener. */
export const PLATFORM_JWT_AUDIENCE = 'modelgate:inference';

/**
 * The claim that scopes a token, modelled on Scaleway's `application_claim`
 * (`namespace_id` → infrastructure, `application_id` → deployment). Ids decide; names are
 * for people reading the token.
 */
export const SCOPE_CLAIM = 'modelgate_claim';

export interface ScopeClaim {
  readonly infrastructure_id: string;
  readonly infrastructure: string;
  /** Present when the token opens one deployment only. */
  readonly deployment_id?: string;
  readonly deployment?: string;
}

/** Longest token the gateway will try to verify (ours are well under 1 KB). */
export const MAX_TOKEN_LENGTH = 4096;

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/**
 * A cheap shape check before any JOSE work: three non-empty base64url segments, bounded size.
 * Everything else (header, algorithm, signature, claims) is left to `jose`.
 */
export function looksLikeJwt(token: string): boolean {
  if (token.length > MAX_TOKEN_LENGTH) return false;
  const parts = token.split('.');
  return parts.length === 3 && parts.every((p) => SEGMENT.test(p));
}

/** Reads the scope claim from verified claims, or undefined when it is missing or mistyped. */
export function readScopeClaim(payload: Record<string, unknown>): ScopeClaim | undefined {
  const raw = payload[SCOPE_CLAIM];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const c = raw as Record<string, unknown>;
  const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 128;
  if (!str(c.infrastructure_id) || !str(c.infrastructure)) return undefined;
  if (c.deployment_id !== undefined && (!str(c.deployment_id) || !str(c.deployment))) return undefined;
  return c as unknown as ScopeClaim;
}

/** Whether a token's scope covers a deployment: its whole infrastructure, or that deployment. */
export function scopeCovers(
  scope: ScopeClaim,
  deployment: { readonly id: string; readonly infrastructure_id: string },
): boolean {
  if (scope.infrastructure_id !== deployment.infrastructure_id) return false;
  return scope.deployment_id === undefined || scope.deployment_id === deployment.id;
}

/**
 * Whether a token's header and payload are exactly what `JSON.stringify` makes of them, as every
 * token this node signs is. Refuses what parsers could read differently (duplicate keys above
 * all: `JSON.parse` keeps the last, other parsers the first), even under a valid signature.
 */
export function isCanonicalToken(token: string): boolean {
  const [header, payload] = token.split('.');
  return [header, payload].every((segment) => {
    try {
      const text = new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(segment ?? ''));
      return JSON.stringify(JSON.parse(text)) === text;
    } catch {
      return false;
    }
  });
}
