import type { IncomingMessage } from 'node:http';
import { readAuthorization } from '../kernel/authorization-header.js';
import { parseCredential } from '../kernel/credential.js';
import { bearerChallenge, type Denial, deny, isDenial } from '../kernel/denial.js';
import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import type { Verification } from '../kernel/pending-check.js';
import { ANONYMOUS, type Principal } from '../kernel/principal.js';
import type { NodeKeyVerifier } from '../keys/node-keys.js';
import type { ApiKeyVerifier } from './verifiers/api-key.js';
import type { ApiTokenVerifier } from './verifiers/api-token.js';
import type { BasicScope, BasicVerifier } from './verifiers/basic.js';
import { OidcVerifier } from './verifiers/oidc.js';
import type { PlatformJwtVerifier } from './verifiers/platform-jwt.js';

export interface DataPlaneVerifiers {
  /** Undefined when token authorization is disabled: every deployment is then open. */
  readonly nodeKeys: NodeKeyVerifier | undefined;
  readonly apiKeys: ApiKeyVerifier;
  readonly apiTokens: ApiTokenVerifier;
  readonly basic: BasicVerifier;
  readonly platformJwt: PlatformJwtVerifier;
  readonly oidc: OidcVerifier;
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
 * password (G2), API tokens with endpoint access covering it (B5), platform JWTs whose claim covers it (S1-S4), and external OIDC access tokens when
 * the snapshot names an issuer (D8). The scheme picks the verifier; nothing is tried twice.
 * Synchronous: a known credential (a cached key, password or JWT) is decided from memory, an
 * unknown one comes back as a `PendingCheck` to run once the caller has reserved a throttle
 * attempt (`run(client)` takes the caller's throttle key, its share of the password-check cap).
 */
export function authenticateDeploymentRequest(
  req: IncomingMessage,
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers,
): Verification {
  if (!requiresCredential(snapshot, verifiers)) return ANONYMOUS;
  const header = readAuthorization(req);
  if (header === undefined) return deny('missing');
  if (isDenial(header)) return header;
  if (header.scheme === 'basic') {
    if (!snapshot.basic) return deny('unknown', 'This deployment does not accept Basic credentials');
    return verifiers.basic.check(header.username, header.password, basicScopeOf(snapshot, snapshot.basic));
  }
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
    if (snapshot.oidc && OidcVerifier.isFrom(token, snapshot.oidc)) {
      return verifiers.oidc.check(token, snapshot.oidc, snapshot);
    }
    return verifiers.platformJwt.check(token, snapshot);
  }
  const credential = parseCredential(token);
  if (!credential) return deny('malformed', 'Not a modelgate credential (bad prefix, characters or checksum)');
  switch (credential.kind) {
    case 'inference_key': {
      return verifiers.nodeKeys.verify(credential);
    }
    case 'api_key':
      return snapshot.api_keys ? verifiers.apiKeys.check(credential, snapshot.api_keys) : NO_API_KEYS;
    case 'api_token':
      // A person's token (B5): its endpoint access and its owner's read right decide.
      return verifiers.apiTokens.check(credential, snapshot);
    case 'management_key':
    case 'token_api_key': {
      // A valid node key of the wrong kind is a 403, an invalid one a 401.
      const result = verifiers.nodeKeys.verify(credential);
      return isDenial(result) ? result : deny('forbidden', 'Use the inference key for model traffic');
    }
    default:
      return deny('unknown');
  }
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
 * const verdict = await reauthenticate({ kind: 'api_token', id: 'tok_1' }, snapshot, verifiers); // Principal or Denial
 * ```
 */
export function reauthenticate(
  principal: Principal,
  snapshot: DeploymentSnapshot,
  verifiers: DataPlaneVerifiers,
): Principal | Denial | Promise<Principal | Denial> {
  if (!requiresCredential(snapshot, verifiers)) return principal;
  switch (principal.kind) {
    case 'api_key':
      return snapshot.api_keys ? verifiers.apiKeys.recheck(principal.id, snapshot.api_keys) : NO_API_KEYS;
    case 'api_token':
      return verifiers.apiTokens.recheck(principal.id, snapshot);
    case 'platform_jwt':
      // Only a user-issued token answers to its issuer's access; a key-issued one to its scope.
      return principal.owner === undefined ? principal : verifiers.platformJwt.recheck(principal.id, snapshot);
    default:
      return principal;
  }
}

/** The refusal of an API key where the deployment takes none. */
const NO_API_KEYS = deny('unknown', 'This deployment does not accept API keys');

/**
 * The `WWW-Authenticate` values for a protected deployment: every scheme it accepts, so browsers
 * show their native Basic prompt where Basic works (B7).
 */
export function deploymentChallenges(snapshot: DeploymentSnapshot, reason: Denial['denied']): string[] {
  const realm = snapshot.name.replaceAll('"', '');
  const challenges: string[] = [];
  if (snapshot.basic) challenges.push(`Basic realm="${realm}", charset="UTF-8"`);
  challenges.push(bearerChallenge(realm, reason));
  return challenges;
}

const basicScopes = new WeakMap<DeploymentSnapshot, BasicScope>();

/** The Basic scope of a revision, built once per snapshot rather than per request. */
function basicScopeOf(snapshot: DeploymentSnapshot, basic: NonNullable<DeploymentSnapshot['basic']>): BasicScope {
  let scope = basicScopes.get(snapshot);
  if (scope === undefined) {
    scope = { deployment_id: snapshot.id, deployment: snapshot.name, revision: snapshot.revision, ...basic };
    basicScopes.set(snapshot, scope);
  }
  return scope;
}
