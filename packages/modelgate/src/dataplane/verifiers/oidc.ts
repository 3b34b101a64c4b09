import { decodeJwt, errors, type JWTPayload, jwtVerify } from 'jose';
import { BoundedCache } from '../../kernel/cache.js';
import { hashCredential } from '../../kernel/credential.js';
import { type Denial, deny } from '../../kernel/denial.js';
import type { DeploymentSnapshot } from '../../kernel/deployment-snapshot.js';
import { looksLikeJwt } from '../../kernel/jwt-claims.js';
import type { OidcSettings } from '../../kernel/oidc-settings.js';
import { PendingCheck } from '../../kernel/pending-check.js';
import type { Identity, Proof, Verifier } from '../verifier.js';
import { IssuerKeys } from './oidc-issuer-keys.js';

/** Header parameters that point at or carry keys: a token with one is refused outright. */
const KEY_POINTERS = ['jku', 'x5u', 'jwk', 'x5c'];

export interface OidcVerifierOptions {
  /** Minimum time between two fetches of one issuer's keys for an unknown `kid`. */
  readonly cooldownMs: number;
  readonly maxAgeMs: number;
  /** The clock (epoch ms) tokens and key fetches are timed by; default `Date.now`, tests inject one. */
  readonly now?: () => number;
}

/** A verified token, cached by deployment revision and token hash until `exp`. */
interface Outcome {
  readonly exp: number;
  readonly identity: Identity;
}

/**
 * Verifies external OAuth2/OIDC access tokens (D8) against the issuer a deployment names:
 * signature by a key from the issuer's JWKS, one of the allowed algorithms, `iss`, `aud`,
 * `exp`/`nbf` and (when present) `iat` with the configured skew. Verified once, then cached
 * until `exp`. The deployment's required claims and scopes are `authorize`'s (403 when missing).
 */
export class OidcVerifier implements Verifier<string> {
  private readonly issuers = new Map<string, IssuerKeys>();
  private readonly cache = new BoundedCache<Outcome>(50_000);
  private readonly now: () => number;

  constructor(private readonly options: OidcVerifierOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether a token says it comes from this issuer (unverified: only picks the verifier). */
  static isFrom(token: string, settings: OidcSettings): boolean {
    try {
      return decodeJwt(token).iss === settings.issuer;
    } catch {
      return false;
    }
  }

  /**
   * The gateway's entry: a token verified before (for this revision, not expired) is proven
   * from memory; an unknown one is a `PendingCheck` (the issuer's keys may need fetching).
   * Only asked for a deployment that names an issuer (`snapshot.oidc`).
   */
  verify(token: string, snapshot: DeploymentSnapshot): Proof {
    const settings = snapshot.oidc;
    if (!settings) return deny('unknown');
    if (!looksLikeJwt(token)) return deny('malformed', 'The token is not a well-formed JWT');
    const key = `${snapshot.id}:${snapshot.revision}:${hashCredential(token)}`;
    const hit = this.cache.get(key);
    if (hit) return this.cached(key, hit, settings);
    return new PendingCheck(() => this.verifyUncached(token, key, settings));
  }

  private async verifyUncached(token: string, key: string, settings: OidcSettings): Promise<Identity | Denial> {
    const hit = this.cache.get(key);
    if (hit) return this.cached(key, hit, settings);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        token,
        async (header, t) => {
          if (KEY_POINTERS.some((name) => name in header)) throw new errors.JWSInvalid('key-carrying header');
          return this.keysOf(settings).getKey(header, t);
        },
        {
          issuer: settings.issuer,
          audience: [...settings.audiences],
          algorithms: [...settings.algorithms],
          clockTolerance: settings.clock_skew_s,
          currentDate: new Date(this.now()),
          requiredClaims: ['exp'],
        },
      ));
    } catch (err) {
      if (err instanceof errors.JWTExpired) return deny('expired');
      if (err instanceof errors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) {
        return deny('unknown');
      }
      throw err;
    }
    if (issuedInTheFuture(payload, settings.clock_skew_s, this.now() / 1000)) {
      return deny('unknown', 'The token was issued in the future');
    }
    const identity = identityOf(payload);
    this.cache.set(key, { exp: payload.exp!, identity });
    return identity;
  }

  /** A cached token, unless it expired since (then it is dropped and refused). */
  private cached(key: string, hit: Outcome, settings: OidcSettings): Identity | Denial {
    if (hit.exp + settings.clock_skew_s > this.now() / 1000) return hit.identity;
    this.cache.delete(key);
    return deny('expired');
  }

  private keysOf(settings: OidcSettings): IssuerKeys {
    const id = `${settings.issuer}\n${settings.jwks_url ?? ''}`;
    let keys = this.issuers.get(id);
    if (!keys) {
      keys = new IssuerKeys({ issuer: settings.issuer, jwksUrl: settings.jwks_url, ...this.options, now: this.now });
      this.issuers.set(id, keys);
    }
    return keys;
  }
}

/**
 * Whether verified claims carry an `iat` later than now plus the skew. `jose` has already refused
 * a present `iat` that is not a NumericDate, but it checks a future `iat` only together with
 * `maxTokenAge`, which would also make `iat` mandatory: the README requires only `exp`, so a
 * token without `iat` is accepted and this check is done here.
 *
 * @example
 * ```ts
 * issuedInTheFuture({ iat: 1_700_003_600 }, 60, 1_700_000_000); // true: an hour ahead
 * issuedInTheFuture({}, 60, 1_700_000_000); // false: no iat
 * ```
 */
export function issuedInTheFuture(payload: JWTPayload, skewS: number, nowS: number): boolean {
  return typeof payload.iat === 'number' && payload.iat > nowS + skewS;
}

/** A verified token's identity: `external_jwt:<sub>`, reaching what its claims and scopes say. */
function identityOf(payload: JWTPayload): Identity {
  const sub = typeof payload.sub === 'string' && payload.sub.length <= 256 ? payload.sub : 'unknown';
  return {
    principal: { kind: 'external_jwt', id: sub },
    reach: { kind: 'oidc', claims: payload, scopes: grantedScopes(payload) },
  };
}

/** `scope` (RFC 8693/9068, space-separated) or `scp` (a list or a string). */
function grantedScopes(payload: JWTPayload): Set<string> {
  const out = new Set<string>();
  for (const value of [payload.scope, payload.scp]) {
    if (typeof value === 'string') for (const s of value.split(' ')) if (s) out.add(s);
    if (Array.isArray(value)) for (const s of value) if (typeof s === 'string') out.add(s);
  }
  return out;
}
