import type { ParsedCredential } from '../kernel/credential.js';
import type { Denial } from '../kernel/denial.js';
import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import type { EndpointAccess } from '../kernel/endpoint-access.js';
import type { ScopeClaim } from '../kernel/jwt-claims.js';
import type { PendingCheck } from '../kernel/pending-check.js';
import type { Principal } from '../kernel/principal.js';

/**
 * What a credential may reach, as proven by its verifier: data only. Whether it reaches the
 * deployment being called is decided in one place, `authorize` (`./authorize.ts`).
 */
export type Reach =
  /** The node's inference key (T4): every protected deployment. */
  | { readonly kind: 'node' }
  /** A node key of another purpose (management, token API): never model traffic. */
  | { readonly kind: 'other_plane' }
  /** An API key (D8): the deployment, or the version, that owns it. */
  | { readonly kind: 'owner'; readonly owner_type: 'deployment' | 'version'; readonly owner_id: string }
  /** An API token (B5): its Protected Endpoint access. */
  | { readonly kind: 'endpoints'; readonly access: EndpointAccess | null }
  /** A platform JWT (S1–S4): its `modelgate` claim. */
  | { readonly kind: 'claim'; readonly scope: ScopeClaim }
  /** Basic (G2): the deployment whose password it matched. */
  | { readonly kind: 'deployment'; readonly deployment_id: string }
  /** An external OIDC access token (D8): its claims and granted scopes, for the deployment's requirements. */
  | { readonly kind: 'oidc'; readonly claims: Readonly<Record<string, unknown>>; readonly scopes: ReadonlySet<string> };

/**
 * A verified credential: who it is (`principal`, built once per cached credential so a hit
 * allocates nothing), what it may reach, and the person whose rights bound it now (an API
 * token's owner, the user who issued a platform JWT), if any.
 */
export interface Identity {
  readonly principal: Principal;
  readonly reach: Reach;
  /** A user id: the credential never opens more than this user may read at this moment. */
  readonly issuer?: string;
}

/** A verifier's answer: proven from memory, refused, or a check to run behind the failure throttle. */
export type Proof = Identity | Denial | PendingCheck<Identity | Denial>;

/**
 * One kind of data-plane credential's verifier: it proves who the credential is and what it may
 * reach (authentication), and decides nothing about the deployment's scope, which is
 * `authorize`'s. `verify` is synchronous for a known credential (a cache hit, a node key, a
 * malformed one) and a `PendingCheck` otherwise.
 *
 * `reverify` answers for an admitted principal whose standing can change while a WebSocket relay
 * it opened is open (a rolled key, a revoked token), read afresh, without the credential.
 *
 * @example
 * ```ts
 * const proof = verifiers.byKind.api_key.verify(parsed, snapshot); // Identity, Denial or PendingCheck
 * ```
 */
export interface Verifier<C> {
  verify(credential: C, snapshot: DeploymentSnapshot): Proof;
  reverify?(principal: Principal, snapshot: DeploymentSnapshot): Promise<Identity | Denial>;
}

/** A username and password from a Basic `Authorization` header. */
export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** What each kind of presented credential looks like once the header or cookie has been read. */
export interface PresentedCredentials {
  readonly basic: BasicCredentials;
  readonly inference_key: ParsedCredential;
  readonly management_key: ParsedCredential;
  readonly token_api_key: ParsedCredential;
  readonly admin_key: ParsedCredential;
  readonly api_key: ParsedCredential;
  readonly api_token: ParsedCredential;
  readonly secret: ParsedCredential;
  readonly user_session: ParsedCredential;
  /** A JWT this node signed (or a forgery of one). */
  readonly platform_jwt: string;
  /** A JWT from the deployment's OIDC issuer. */
  readonly external_jwt: string;
}

/** The kinds of credential a caller can present to the data plane. */
export type PresentedKind = keyof PresentedCredentials;

/** The kind → verifier table: every presented kind has exactly one verifier. */
export type VerifierTable = { readonly [K in PresentedKind]: Verifier<PresentedCredentials[K]> };
