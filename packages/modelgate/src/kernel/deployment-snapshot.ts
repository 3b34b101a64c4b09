import type { CredentialKind } from './credential-kinds.js';
import type { OidcSettings } from './oidc-settings.js';
import type { RateLimit } from './rate-limit.js';
import type { Access } from './validation.js';

/**
 * What the gateway serves for one deployment: frozen at (re)deploy, never edited. Secrets are
 * in it only as a slow hash of the Basic password as it was at that moment (G4).
 */
export interface DeploymentSnapshot {
  readonly id: string;
  readonly name: string;
  readonly revision: number;
  readonly upstream: string;
  readonly access: Access;
  readonly infrastructure_id: string;
  readonly service_id: string;
  readonly version_id: string;
  /** Present when Basic is on: the username and the scrypt hash of the snapshotted password. */
  readonly basic: { readonly username: string; readonly password_hash: string } | null;
  /** Present when API keys are on: which owners' keys count. */
  readonly api_keys: { readonly deployment_id: string; readonly version_id: string | null } | null;
  readonly forward_credential: boolean;
  /** Present when external OAuth2/OIDC access tokens are accepted (D8). Absent in older snapshots. */
  readonly oidc?: OidcSettings | null;
  /**
   * The kinds of credential admitted when the deployment lists them; null or absent (older
   * snapshots) for every kind the other fields turn on. Basic, API keys and OIDC left out of
   * the list are off in their own fields too.
   */
  readonly credentials?: readonly CredentialKind[] | null;
  /** The deployment's rate limit (X3); null or absent (older snapshots) for none. */
  readonly rate_limit?: RateLimit | null;
  /** Which auth settings applied: the version's (design time) or the deployment's override. */
  readonly auth_source: 'version' | 'override';
}
