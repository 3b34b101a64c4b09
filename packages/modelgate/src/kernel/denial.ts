import type { ErrorCode } from './errors.js';
import type { Principal } from './principal.js';

/**
 * Why a request was not let through, every reason in a fixed order (metrics label by it).
 * Verifiers return these as values; the HTTP status and the headers are decided once, at the edge.
 */
export const DENIAL_REASONS = [
  'missing',
  'malformed',
  'ambiguous',
  'unknown',
  'expired',
  'revoked',
  'forbidden',
  /** Refused for this caller's own excess (failures, its share of a cap): counts against it. */
  'throttled',
  /** The node is at a cap that this caller did not fill: refused, but not held against it. */
  'busy',
] as const;

export type DenialReason = (typeof DENIAL_REASONS)[number];

export interface Denial {
  readonly denied: DenialReason;
  /** Safe, public detail (never the credential). */
  readonly detail?: string;
  /** For `throttled` and `busy`: seconds until a retry may succeed (`Retry-After`). */
  readonly retryAfter?: number;
  /**
   * The verified caller, when the refusal came after its credential was proven (a key for another
   * deployment, an owner without the right, a locked-out address): audited as that caller.
   */
  readonly caller?: Principal;
}

export function deny(reason: DenialReason, detail?: string): Denial {
  return detail === undefined ? { denied: reason } : { denied: reason, detail };
}

/** A `throttled` or `busy` denial that says when to retry. */
export function denyForNow(reason: 'throttled' | 'busy', retryAfter: number, detail?: string): Denial {
  return detail === undefined ? { denied: reason, retryAfter } : { denied: reason, detail, retryAfter };
}

export function isDenial(value: unknown): value is Denial {
  return typeof value === 'object' && value !== null && 'denied' in value;
}

const CODES: Record<DenialReason, ErrorCode> = {
  missing: 'CREDENTIAL_MISSING',
  malformed: 'CREDENTIAL_MALFORMED',
  ambiguous: 'CREDENTIAL_AMBIGUOUS',
  unknown: 'CREDENTIAL_UNKNOWN',
  expired: 'CREDENTIAL_EXPIRED',
  revoked: 'CREDENTIAL_REVOKED',
  forbidden: 'FORBIDDEN',
  throttled: 'THROTTLED',
  busy: 'THROTTLED',
};

/** The registry code for a denial. */
export function denialCode(reason: DenialReason): ErrorCode {
  return CODES[reason];
}

/**
 * RFC 6750 §3 `WWW-Authenticate` value for a Bearer-protected resource: no error attribute when
 * no credential was sent, `invalid_token` for a bad one, `insufficient_scope` for 403.
 */
export function bearerChallenge(realm: string, reason: DenialReason): string {
  const base = `Bearer realm="${realm}"`;
  if (reason === 'missing') return base;
  if (reason === 'forbidden') return `${base}, error="insufficient_scope"`;
  if (reason === 'malformed' || reason === 'ambiguous') return `${base}, error="invalid_request"`;
  return `${base}, error="invalid_token"`;
}
