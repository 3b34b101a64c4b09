import type { RateLimit } from './rate-limit.js';

/** Who is calling, once a credential has been verified: every kind, in a fixed order (metrics label by it). */
export const PRINCIPAL_KINDS = [
  'anonymous',
  'management_key',
  'inference_key',
  'token_api_key',
  'admin_key',
  'api_key',
  'api_token',
  'basic',
  'user',
  'platform_jwt',
  'external_jwt',
] as const;

export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** Kinds whose principal carries nothing but an id: node keys, admin keys, Basic, OIDC, anonymous. */
export type PlainKind = Exclude<PrincipalKind, 'user' | 'api_key' | 'api_token' | 'platform_jwt'>;

/** A caller identified by an id alone (`node:management`, an admin key id, ...). */
export interface PlainPrincipal {
  readonly kind: PlainKind;
  /** Stable, non-secret id. */
  readonly id: string;
}

/** A signed-in person on the management API: by session, or by an API token with ops access. */
export interface UserPrincipal {
  readonly kind: 'user';
  /** The user id. */
  readonly id: string;
  /** The username, for people to read (the audit records it beside the id). */
  readonly name: string;
  /** The session row id, so sign-out ends exactly this session. */
  readonly session?: string;
  /** Acting through an API token with ops access: the token's id. */
  readonly token?: string;
  /** The credential came from the session cookie, so writes need a CSRF check. */
  readonly viaCookie?: boolean;
}

/**
 * A rolled credential still in its grace (X2) carries the epoch ms from which it is refused: an
 * open WebSocket relay it opened is closed then, since the handshake was the relay's only check.
 */
interface Retiring {
  readonly retiresAt?: number;
}

/** A credential's own rate limit (X3): it narrows its deployment's per-caller one. */
interface OwnRateLimit {
  readonly rate_limit?: RateLimit;
}

/** An API key on the data plane: a deployment's own, or a service version's. */
export interface ApiKeyPrincipal extends Retiring, OwnRateLimit {
  readonly kind: 'api_key';
  readonly id: string;
  /**
   * A deployment's own key's limit replaces the deployment's per-caller one: its makers need the
   * right to change that limit (deploy on the deployment). A version key's (made with deploy on
   * the service alone) only narrows it.
   */
  readonly rate_limit_replaces?: true;
}

/** A person's API token on the data plane: `owner` is that user's id (a change to their access re-checks it). */
export interface ApiTokenPrincipal extends Retiring, OwnRateLimit {
  readonly kind: 'api_token';
  readonly id: string;
  readonly owner: string;
}

/** A platform JWT (id: its `jti`); `owner` is the issuing user's id when a person issued it. */
export interface PlatformJwtPrincipal {
  readonly kind: 'platform_jwt';
  readonly id: string;
  readonly owner?: string;
}

/**
 * Who is calling, once a credential has been verified: a union by `kind`, so each kind carries
 * exactly its own facts.
 *
 * @example
 * ```ts
 * if (principal.kind === 'user') audit(principal.name); // narrowed: name is there
 * ```
 */
export type Principal = PlainPrincipal | UserPrincipal | ApiKeyPrincipal | ApiTokenPrincipal | PlatformJwtPrincipal;

/** When a rolled credential stops being accepted (epoch ms), for the kinds that roll. */
export function retiresAtOf(principal: Principal): number | undefined {
  return principal.kind === 'api_key' || principal.kind === 'api_token' ? principal.retiresAt : undefined;
}

/** The principal of every request when token authorization is disabled. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 'anonymous' });

/** The user id of a signed-in user, or undefined for keys and anonymous callers (they own nothing). */
export function userIdOf(principal: Principal): string | undefined {
  return principal.kind === 'user' ? principal.id : undefined;
}
