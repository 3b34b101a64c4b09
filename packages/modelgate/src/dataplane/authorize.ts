import { type Denial, deny, isDenial } from '../kernel/denial.js';
import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import { endpointDenial } from '../kernel/endpoint-access.js';
import { scopeCovers } from '../kernel/jwt-claims.js';
import type { OidcSettings } from '../kernel/oidc-settings.js';
import { PendingCheck, type Verification } from '../kernel/pending-check.js';
import type { Principal } from '../kernel/principal.js';
import { type IssuerRights, MAY_READ } from './issuer-rights.js';
import type { Identity, PresentedKind, Proof, Reach } from './verifier.js';

/**
 * Every data-plane scope decision, in one place. A verifier proves who a credential is and what
 * it may reach (`Identity`); here that is held against the deployment being called:
 *
 * 1. the deployment accepts the credential's kind (`kindRefusal`, before any verification);
 * 2. the credential's reach covers it (`reachDenial`);
 * 3. the person behind it, if any, may read it now (`IssuerRights`, as the management API
 *    decides: service read ∧ infrastructure view, never for a disabled or deleted user).
 *
 * Synchronous whenever memory can decide; the issuer's rights, when not cached, make it a
 * `PendingCheck`.
 */

/** The refusal of an API key where the deployment takes none. */
const NO_API_KEYS = deny('unknown', 'This deployment does not accept API keys');
const NO_BASIC = deny('unknown', 'This deployment does not accept Basic credentials');
const OTHER_PLANE = deny('forbidden', 'Use the inference key for model traffic');

/**
 * Whether a deployment takes a kind of credential at all, decided before it is verified: Basic
 * only with a password (G2), API keys only when enabled (D8), and any kind only when the
 * deployment's `credentials` list (if it has one) names it. Others are decided by their reach.
 *
 * @example
 * ```ts
 * kindRefusal('api_key', { ...snapshot, api_keys: null }); // 401: does not accept API keys
 * ```
 */
export function kindRefusal(kind: PresentedKind, snapshot: DeploymentSnapshot): Denial | undefined {
  if (kind === 'basic') return snapshot.basic ? undefined : NO_BASIC;
  if (kind === 'api_key') return snapshot.api_keys ? undefined : NO_API_KEYS;
  const listed = snapshot.credentials;
  if (listed === undefined || listed === null) return undefined;
  const listedAs = LISTED_AS[kind];
  return listedAs === undefined || listed.includes(listedAs) ? undefined : NOT_LISTED[listedAs];
}

/**
 * The listed kind a presented one counts as: the node's other keys count as its inference key
 * (still refused by their reach, 403). Basic, API keys and OIDC tokens are decided by their own
 * snapshot fields; credentials that are never data-plane ones have no entry.
 */
const LISTED_AS: Partial<Record<PresentedKind, 'inference_key' | 'api_token' | 'platform_jwt'>> = {
  inference_key: 'inference_key',
  management_key: 'inference_key',
  token_api_key: 'inference_key',
  api_token: 'api_token',
  platform_jwt: 'platform_jwt',
};

/** One refusal per kind a deployment's list can leave out, made once. */
const NOT_LISTED = {
  inference_key: deny('unknown', 'This deployment does not accept node keys'),
  api_token: deny('unknown', 'This deployment does not accept API tokens'),
  platform_jwt: deny('unknown', 'This deployment does not accept platform JWTs'),
} as const;

/**
 * Whether a verified credential's reach covers a deployment: 403 (or 401 where the deployment
 * no longer takes the kind) when not, undefined when it does. Pure.
 *
 * @example
 * ```ts
 * reachDenial({ kind: 'endpoints', access: { deployments: ['churn'] } }, fraudSnapshot); // 403
 * reachDenial({ kind: 'node' }, anySnapshot); // undefined
 * ```
 */
export function reachDenial(reach: Reach, snapshot: DeploymentSnapshot): Denial | undefined {
  switch (reach.kind) {
    case 'node':
      return undefined;
    case 'other_plane':
      return OTHER_PLANE;
    case 'owner': {
      const keys = snapshot.api_keys;
      if (!keys) return NO_API_KEYS;
      const owned =
        (reach.owner_type === 'deployment' && reach.owner_id === keys.deployment_id) ||
        (reach.owner_type === 'version' && reach.owner_id === keys.version_id);
      return owned ? undefined : deny('forbidden', 'This API key is for another deployment');
    }
    case 'endpoints':
      return endpointDenial(reach.access, snapshot.name);
    case 'claim':
      return scopeCovers(reach.scope, snapshot)
        ? undefined
        : deny('forbidden', 'This token is for another deployment or infrastructure');
    case 'deployment':
      return reach.deployment_id === snapshot.id ? undefined : deny('unknown');
    case 'oidc':
      return snapshot.oidc ? oidcDenial(reach, snapshot.oidc) : deny('unknown');
  }
}

/**
 * A verified identity held against a deployment: its principal when its reach covers the
 * deployment and its issuer (if any) may read it now, else a denial; a `PendingCheck` when the
 * issuer's rights are not cached.
 *
 * @example
 * ```ts
 * const verdict = authorize(identity, snapshot, rights); // Principal, Denial or PendingCheck
 * ```
 */
export function authorize(identity: Identity, snapshot: DeploymentSnapshot, rights: IssuerRights): Verification {
  const refused = reachDenial(identity.reach, snapshot);
  if (refused) return refusedAs(refused, identity);
  const issuer = identity.issuer;
  if (issuer === undefined) return identity.principal;
  const now = rights.peek(issuer, snapshot);
  if (now === undefined) return new PendingCheck(() => issuerVerdict(identity, issuer, snapshot, rights, false));
  return now === MAY_READ ? identity.principal : refusedAs(now, identity);
}

/** A refusal after the credential was proven: it names the caller, for the audit log. */
function refusedAs(denial: Denial, identity: Identity): Denial {
  return { ...denial, caller: identity.principal };
}

/**
 * A verifier's proof authorized: a denial stays one, an identity is authorized, a pending proof
 * becomes a pending check that authorizes once it is proven.
 */
export function authorizeProof(proof: Proof, snapshot: DeploymentSnapshot, rights: IssuerRights): Verification {
  if (proof instanceof PendingCheck) {
    return new PendingCheck(async (client) => {
      const proven = await proof.run(client);
      return isDenial(proven) ? proven : settle(authorize(proven, snapshot, rights), client);
    });
  }
  return isDenial(proof) ? proof : authorize(proof, snapshot, rights);
}

/**
 * As `authorize`, reading the issuer's rights from the store whatever the cache holds: for a
 * decision taken right after a change (an open WebSocket relay re-checked), which must not
 * depend on the order of the bus's listeners.
 */
export async function authorizeAfresh(
  identity: Identity,
  snapshot: DeploymentSnapshot,
  rights: IssuerRights,
): Promise<Principal | Denial> {
  const refused = reachDenial(identity.reach, snapshot);
  if (refused) return refusedAs(refused, identity);
  return identity.issuer === undefined
    ? identity.principal
    : issuerVerdict(identity, identity.issuer, snapshot, rights, true);
}

async function issuerVerdict(
  identity: Identity,
  issuer: string,
  snapshot: DeploymentSnapshot,
  rights: IssuerRights,
  fresh: boolean,
): Promise<Principal | Denial> {
  const now = await rights.decide(issuer, snapshot, fresh);
  return now === MAY_READ ? identity.principal : refusedAs(now, identity);
}

function settle(verdict: Verification, client: string): Principal | Denial | Promise<Principal | Denial> {
  return verdict instanceof PendingCheck ? verdict.run(client) : verdict;
}

/** The deployment's required claims and scopes (D8), against a verified OIDC token: 403 when one is missing. */
function oidcDenial(reach: Extract<Reach, { kind: 'oidc' }>, settings: OidcSettings): Denial | undefined {
  for (const name in settings.required_claims) {
    const expected = settings.required_claims[name];
    const actual = reach.claims[name];
    const ok = Array.isArray(actual) ? actual.includes(expected) : actual === expected;
    if (!ok) return deny('forbidden', `The token lacks the required claim ${name}`);
  }
  if (settings.required_scopes.every((scope) => reach.scopes.has(scope))) return undefined;
  const missing = settings.required_scopes.filter((scope) => !reach.scopes.has(scope));
  return deny('forbidden', `The token lacks the scope ${missing.join(' ')}`);
}
