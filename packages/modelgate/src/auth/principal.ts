/** Who is calling, once a credential has been verified. */
export type PrincipalKind =
  | 'anonymous'
  | 'management_key'
  | 'inference_key'
  | 'token_api_key'
  | 'admin_key'
  | 'api_key'
  | 'api_token'
  | 'basic'
  | 'platform_jwt'
  | 'external_jwt';

export interface Principal {
  readonly kind: PrincipalKind;
  /** Stable, non-secret id: `node:management`, an admin key id, an API key id, ... */
  readonly id: string;
}

/** The principal of every request when token authorization is disabled. */
export const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous', id: 'anonymous' });
