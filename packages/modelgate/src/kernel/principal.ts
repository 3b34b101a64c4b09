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

export interface Principal {
  readonly kind: PrincipalKind;
  /** Stable, non-secret id: `node:management`, an admin key id, an API key id, ... */
  readonly id: string;
  /** For `user`: the username, for people to read (the audit records it beside the id). */
  readonly name?: string;
  /** For `user`: the session row id, so sign-out ends exactly this session. */
  readonly session?: string;
  /** For `user` acting through an API token with ops access: the token's id. */
  readonly token?: string;
  /** For `user`: the credential came from the session cookie, so writes need a CSRF check. */
  readonly viaCookie?: boolean;
  /**
   * For a rolled credential still in its grace (X2): epoch ms from which it is refused. An open
   * WebSocket relay it opened is closed then, since the handshake was the relay's only check.
   */
  readonly retiresAt?: number;
  /**
   * On the data plane, for `api_token` and a `platform_jwt` a user issued: that user's id (a
   * change to their access re-checks it).
   */
  readonly owner?: string;
}

/** The principal of every request when token authorization is disabled. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 'anonymous' });

/** The user id of a signed-in user, or undefined for keys and anonymous callers (they own nothing). */
export function userIdOf(principal: Principal): string | undefined {
  return principal.kind === 'user' ? principal.id : undefined;
}
