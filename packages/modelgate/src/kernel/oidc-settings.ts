import type { Problems } from './validation.js';

/**
 * An external OAuth2/OIDC issuer whose access tokens a protected deployment accepts (D8). Part of
 * a version's auth settings or a deployment's override, so it is frozen into the snapshot.
 */
export interface OidcSettings {
  /** The `iss` tokens must carry, exactly; also the base of OpenID discovery. */
  readonly issuer: string;
  /** Accepted `aud` values: a token must name at least one. */
  readonly audiences: readonly string[];
  /** Where the issuer's JWKS is; null means OpenID discovery (`<issuer>/.well-known/openid-configuration`). */
  readonly jwks_url: string | null;
  /** Accepted `alg`s; asymmetric ones only. */
  readonly algorithms: readonly string[];
  /** Claims that must be present with exactly this value (or, for a list claim, contain it). */
  readonly required_claims: Readonly<Record<string, string | number | boolean>>;
  /** Scopes (`scope` or `scp`) the token must grant, else 403. */
  readonly required_scopes: readonly string[];
  /** Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. */
  readonly clock_skew_s: number;
}

/** Asymmetric algorithms only: an HMAC key would have to be shared with the issuer, `none` is never a signature. */
export const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const MAX_SKEW_S = 300;
const KEYS = ['issuer', 'audiences', 'jwks_url', 'algorithms', 'required_claims', 'required_scopes', 'clock_skew_s'];

/** Validates `auth.oidc` (null or absent: no external issuer), reporting every problem. */
export function parseOidcSettings(problems: Problems, field: string, input: unknown): OidcSettings | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object' || Array.isArray(input)) {
    problems.check(false, `${field} must be an object or null`, field);
    return null;
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw))
    problems.check(KEYS.includes(key), `${field}.${key} is not a setting`, `${field}.${key}`);
  problems.check(isHttpUrl(raw.issuer), `${field}.issuer must be an http(s) URL`, `${field}.issuer`);
  const audiences = raw.audiences;
  problems.check(
    Array.isArray(audiences) &&
      audiences.length > 0 &&
      audiences.length <= 20 &&
      audiences.every((a) => typeof a === 'string' && a.length > 0 && a.length <= 512),
    `${field}.audiences must be a non-empty list of strings`,
    `${field}.audiences`,
  );
  const jwksUrl = raw.jwks_url ?? null;
  problems.check(
    jwksUrl === null || isHttpUrl(jwksUrl),
    `${field}.jwks_url must be an http(s) URL or null`,
    `${field}.jwks_url`,
  );
  const algorithms = raw.algorithms ?? DEFAULT_ALGORITHMS;
  problems.check(
    Array.isArray(algorithms) && algorithms.length > 0 && algorithms.every((a) => OIDC_ALGORITHMS.includes(a)),
    `${field}.algorithms must be a non-empty list of ${OIDC_ALGORITHMS.join(', ')}`,
    `${field}.algorithms`,
  );
  const claims = raw.required_claims ?? {};
  problems.check(
    typeof claims === 'object' &&
      claims !== null &&
      !Array.isArray(claims) &&
      Object.values(claims).every((v) => ['string', 'number', 'boolean'].includes(typeof v)),
    `${field}.required_claims must map claim names to strings, numbers or booleans`,
    `${field}.required_claims`,
  );
  const scopes = raw.required_scopes ?? [];
  problems.check(
    Array.isArray(scopes) && scopes.every((s) => typeof s === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)),
    `${field}.required_scopes must be a list of scope tokens`,
    `${field}.required_scopes`,
  );
  const skew = raw.clock_skew_s ?? 60;
  problems.check(
    typeof skew === 'number' && Number.isInteger(skew) && skew >= 0 && skew <= MAX_SKEW_S,
    `${field}.clock_skew_s must be an integer from 0 to ${MAX_SKEW_S}`,
    `${field}.clock_skew_s`,
  );
  return {
    issuer: raw.issuer as string,
    audiences: audiences as string[],
    jwks_url: jwksUrl as string | null,
    algorithms: algorithms as string[],
    required_claims: claims as Record<string, string | number | boolean>,
    required_scopes: scopes as string[],
    clock_skew_s: skew as number,
  };
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || value.length > 2048) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}
