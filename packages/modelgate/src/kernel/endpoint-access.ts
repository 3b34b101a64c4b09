import { type Denial, deny } from './denial.js';
import { retirementDenial } from './rotation.js';

/**
 * What a token opens on the data plane (BentoCloud "Protected Endpoint Access"): every
 * deployment, or the ones named. Always within what its owner may read.
 */
export type EndpointAccess = { readonly all: true } | { readonly deployments: readonly string[] };

/** The time-bound facts of a token that can refuse it whatever it is used for. */
export interface TokenLife {
  /** Epoch ms. */
  readonly expiresAt: number;
  /** Epoch ms after which a rolled token is refused; null while it is current. */
  readonly retiresAt: number | null;
  readonly ownerDisabled: boolean;
}

/**
 * Whether a token can be used at all at `now`: refused once expired, once its rotation grace
 * has ended, or while its owner is disabled. Pure, so tests give it any clock.
 *
 * @example
 * ```ts
 * lifeDenial({ expiresAt: Date.parse('2030-01-01T00:00:00Z'), retiresAt: null, ownerDisabled: false }, Date.now());
 * // undefined: usable
 * ```
 */
export function lifeDenial(token: TokenLife, now: number): Denial | undefined {
  if (token.ownerDisabled) return deny('revoked', 'The owner of this API token is disabled');
  if (now >= token.expiresAt) return deny('expired', 'This API token has expired');
  return retirementDenial(token.retiresAt, now);
}

/**
 * Whether a token's endpoint access covers a deployment by name (before the owner's own rights
 * are asked): an ops-only token and a deployment outside the list are 403.
 *
 * @example
 * ```ts
 * endpointDenial({ deployments: ['churn'] }, 'fraud'); // { denied: 'forbidden', ... }
 * ```
 */
export function endpointDenial(access: EndpointAccess | null, deployment: string): Denial | undefined {
  if (access === null) return deny('forbidden', 'This API token has no Protected Endpoint access');
  if ('all' in access) return undefined;
  return access.deployments.includes(deployment)
    ? undefined
    : deny('forbidden', 'This API token does not list this deployment');
}

/** Reads the stored JSON of `endpoint_access` (null: none). Anything unexpected opens nothing. */
export function readEndpointAccess(json: string | null): EndpointAccess | null {
  if (json === null) return null;
  try {
    const value = JSON.parse(json) as { all?: unknown; deployments?: unknown };
    if (value.all === true) return { all: true };
    if (Array.isArray(value.deployments) && value.deployments.every((d) => typeof d === 'string')) {
      return { deployments: value.deployments as string[] };
    }
  } catch {
    // Falls through: a row we cannot read grants nothing.
  }
  return { deployments: [] };
}
