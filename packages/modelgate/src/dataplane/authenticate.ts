import type { RequestHead } from '../http/request-head.js';
import { readAuthorization } from '../kernel/authorization-header.js';
import { type ParsedCredential, parseCredential } from '../kernel/credential.js';
import { bearerChallenge, type Denial, deny, isDenial } from '../kernel/denial.js';
import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import type { Verification } from '../kernel/pending-check.js';
import { ANONYMOUS, type Principal } from '../kernel/principal.js';
import type { NodeKeyVerifier } from '../keys/node-keys.js';
import { authorizeAfresh, authorizeProof, kindRefusal } from './authorize.js';
import type { IssuerRights } from './issuer-rights.js';
import type { Identity, PresentedCredentials, PresentedKind, Reach, Verifier, VerifierTable } from './verifier.js';
import type { ApiKeyVerifier } from './verifiers/api-key.js';
import type { ApiTokenVerifier } from './verifiers/api-token.js';
import type { BasicVerifier } from './verifiers/basic.js';
import { OidcVerifier } from './verifiers/oidc.js';
import type { PlatformJwtVerifier } from './verifiers/platform-jwt.js';

/** The data plane's verifiers, one per kind of credential, and what people may read now. */
export interface VerifierParts {
  /** Undefined when token authorization is disabled: every deployment is then open. */
  readonly nodeKeys: NodeKeyVerifier | undefined;
  readonly apiKeys: ApiKeyVerifier;
  readonly apiTokens: ApiTokenVerifier;
  readonly basic: BasicVerifier;
  readonly platformJwt: PlatformJwtVerifier;
  readonly oidc: OidcVerifier;
  /** What people may read now: what `authorize` bounds a person's credential by. */
  readonly rights: IssuerRights;
}

/** The verifiers and their kind → verifier table, as the gateway holds them. */
export interface DataPlaneVerifiers extends VerifierParts {
  readonly byKind: VerifierTable;
}

/**
 * The data plane's verifiers with their kind → verifier table, built once.
 *
 * @example
 * ```ts
 * const verifiers = dataPlaneVerifiers({ nodeKeys, apiKeys, apiTokens, basic, platformJwt, oidc, rights });
 * ```
 */
export function dataPlaneVerifiers(parts: VerifierParts): DataPlaneVerifiers {
  return { ...parts, byKind: verifierTable(parts) };
}

/** Whether a caller must present a credential: protected, and token authorization is on. */
export function requiresCredential(
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers,
): verifiers is DataPlaneVerifiers & { readonly nodeKeys: NodeKeyVerifier } {
  return snapshot.access === 'protected' && verifiers.nodeKeys !== undefined;
}

/**
 * Decides who is calling a deployment. Public deployments need nothing. Protected ones take the
 * node inference key (T4), API keys when the snapshot allows them (D8), Basic when it has a
 * password (G2), API tokens (B5), platform JWTs (S1-S4), and external OIDC access tokens when the
 * snapshot names an issuer (D8). The scheme and the credential's kind pick one verifier from the
 * table (nothing is tried twice); `authorize` then holds what it proved against the deployment.
 * Synchronous: a known credential (a cached key, password or JWT) is decided from memory, an
 * unknown one comes back as a `PendingCheck` to run once the caller has reserved a throttle
 * attempt (`run(client)` takes the caller's throttle key, its share of the password-check cap).
 */
export function authenticateDeploymentRequest(
  req: RequestHead,
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers,
): Verification {
  if (!requiresCredential(snapshot, verifiers)) return ANONYMOUS;
  const header = readAuthorization(req);
  if (header === undefined) return deny('missing');
  if (isDenial(header)) return header;
  if (header.scheme === 'basic') return admitAs('basic', header, snapshot, verifiers);
  return authenticateBearer(header.token, snapshot, verifiers);
}

/**
 * Verifies one bearer token for a protected deployment, wherever it came from: the
 * `Authorization` header, or the browser-access cookie (B7), which therefore opens exactly what
 * the same token opens as a header, and stops working the moment the token would.
 *
 * @example
 * ```ts
 * const verdict = authenticateBearer('mgk_...', snapshot, verifiers); // Principal, Denial or PendingCheck
 * ```
 */
export function authenticateBearer(
  token: string,
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers & { readonly nodeKeys: NodeKeyVerifier },
): Verification {
  // modelgate credentials never hold a dot; a JWT always does.
  if (token.includes('.')) {
    const kind = snapshot.oidc && OidcVerifier.isFrom(token, snapshot.oidc) ? 'external_jwt' : 'platform_jwt';
    return admitAs(kind, token, snapshot, verifiers);
  }
  const credential = parseCredential(token);
  if (!credential) return deny('malformed', 'Not a modelgate credential (bad prefix, characters or checksum)');
  return admitAs(credential.kind, credential, snapshot, verifiers);
}

/** One presented credential through the deployment's accepted kinds, its verifier and `authorize`. */
function admitAs<K extends PresentedKind>(
  kind: K,
  credential: PresentedCredentials[K],
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers & { readonly nodeKeys: NodeKeyVerifier },
): Verification {
  const refused = kindRefusal(kind, snapshot);
  if (refused) return refused;
  const verifier: Verifier<PresentedCredentials[K]> = verifiers.byKind[kind];
  return authorizeProof(verifier.verify(credential, snapshot), snapshot, verifiers.rights);
}

/**
 * Decides again whether an admitted principal still opens a deployment, as `authenticateBearer`
 * would decide its credential now, without the credential: an open WebSocket relay keeps only the
 * principal. Asked of the credentials whose standing can change while a relay is open: an API
 * key (rolled), an API token (rolled, its owner's rights changed, the owner disabled or deleted)
 * and a platform JWT a user issued (the issuer's rights changed, the issuer disabled or deleted).
 * Any other principal is returned as it is: what revokes it has an event of its own (a deleted
 * key, a revoked JWT, a changed deployment).
 *
 * @example
 * ```ts
 * const verdict = await reauthenticate({ kind: 'api_token', id: 'tok_1', owner: 'usr_1' }, snapshot, verifiers);
 * ```
 */
export async function reauthenticate(
  principal: Principal,
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers,
): Promise<Principal | Denial> {
  if (!requiresCredential(snapshot, verifiers)) return principal;
  // Only a user-issued token answers to its issuer's access; a key-issued one to its scope.
  if (principal.kind === 'platform_jwt' && principal.owner === undefined) return principal;
  const kind = REVERIFIED[principal.kind];
  if (kind === undefined) return principal;
  const refused = kindRefusal(kind, snapshot);
  if (refused) return refused;
  const proven = await verifiers.byKind[kind].reverify!(principal, snapshot);
  return isDenial(proven) ? proven : authorizeAfresh(proven, snapshot, verifiers.rights);
}

/** The principals whose standing `reauthenticate` reads afresh, and the verifier that does. */
const REVERIFIED: Partial<Record<Principal['kind'], 'api_key' | 'api_token' | 'platform_jwt'>> = {
  api_key: 'api_key',
  api_token: 'api_token',
  platform_jwt: 'platform_jwt',
};

/**
 * The kind → verifier table. Every kind a caller can present has exactly one entry; kinds that
 * are never data-plane credentials (admin keys, secrets, sessions) are refused as unknown, and the
 * node's other keys prove an identity that `authorize` refuses (403: a valid key of the wrong
 * purpose). Without node keys (token authorization off) no credential is ever asked for.
 */
function verifierTable(verifiers: VerifierParts): VerifierTable {
  const nodeKeys = verifiers.nodeKeys ? nodeKeyVerifier(verifiers.nodeKeys) : NEVER;
  return {
    basic: verifiers.basic,
    inference_key: nodeKeys,
    management_key: nodeKeys,
    token_api_key: nodeKeys,
    admin_key: NEVER,
    api_key: verifiers.apiKeys,
    api_token: verifiers.apiTokens,
    secret: NEVER,
    user_session: NEVER,
    platform_jwt: verifiers.platformJwt,
    external_jwt: verifiers.oidc,
  };
}

/** Credentials that never open a deployment, whatever they are. */
const NEVER: Verifier<unknown> = { verify: () => deny('unknown') };

/**
 * The node's keys as a data-plane verifier: the inference key reaches every protected
 * deployment, the management and token API keys none. One identity per node key principal, so a
 * verification allocates nothing.
 */
function nodeKeyVerifier(nodeKeys: NodeKeyVerifier): Verifier<ParsedCredential> {
  const identities = new WeakMap<Principal, Identity>();
  return {
    verify(credential) {
      const principal = nodeKeys.verify(credential);
      if (isDenial(principal)) return principal;
      let identity = identities.get(principal);
      if (identity === undefined) {
        identity = { principal, reach: principal.kind === 'inference_key' ? NODE : OTHER_PLANE };
        identities.set(principal, identity);
      }
      return identity;
    },
  };
}

const NODE: Reach = { kind: 'node' };
const OTHER_PLANE: Reach = { kind: 'other_plane' };

/**
 * The `WWW-Authenticate` values for a protected deployment: every scheme it accepts, so browsers
 * show their native Basic prompt where Basic works (B7).
 */
export function deploymentChallenges(snapshot: DeploymentSnapshot, reason: Denial['denied']): string[] {
  const realm = snapshot.name.replaceAll('"', '');
  const challenges: string[] = [];
  if (snapshot.basic) challenges.push(`Basic realm="${realm}", charset="UTF-8"`);
  // A deployment that lists Basic alone takes no bearer credential: do not ask for one.
  const listed = snapshot.credentials;
  if (!listed || listed.some((kind) => kind !== 'basic')) challenges.push(bearerChallenge(realm, reason));
  return challenges;
}
