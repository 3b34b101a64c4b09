import { type OidcSettings, parseOidcSettings } from './oidc-settings.js';
import { Problems, SECRET_NAME_PATTERN } from './validation.js';

/**
 * How a protected deployment checks callers. Defined on a service version at design time (D6)
 * and optionally overridden per deployment (D7). The node inference key always works too.
 */
export interface AuthSettings {
  /** Name of the secret whose value, at (re)deploy, is the HTTP Basic password (G2–G4). */
  readonly basic_secret: string | null;
  /** Accept API keys (D8): the deployment's own, plus the version's unless overridden. */
  readonly api_keys: boolean;
  /** Pass the caller's Authorization header on to the model server (S5). */
  readonly forward_credential: boolean;
  /** Accept access tokens of an external OAuth2/OIDC issuer (D8); absent for none. */
  readonly oidc?: OidcSettings;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = Object.freeze({
  basic_secret: null,
  api_keys: true,
  forward_credential: false,
});

/** Validates user input into settings, filling defaults; throws VALIDATION_FAILED with every problem. */
export function parseAuthSettings(input: unknown, field = 'auth'): AuthSettings {
  const problems = new Problems();
  if (input === undefined || input === null) return DEFAULT_AUTH_SETTINGS;
  if (typeof input !== 'object' || Array.isArray(input)) {
    problems.check(false, `${field} must be an object`, field).throwIfAny();
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    problems.check(
      key in DEFAULT_AUTH_SETTINGS || key === 'oidc',
      `${field}.${key} is not a setting`,
      `${field}.${key}`,
    );
  }
  const basic = raw.basic_secret ?? null;
  problems.check(
    basic === null || (typeof basic === 'string' && SECRET_NAME_PATTERN.test(basic)),
    `${field}.basic_secret must be a secret name or null`,
    `${field}.basic_secret`,
  );
  problems.check(
    raw.api_keys === undefined || typeof raw.api_keys === 'boolean',
    `${field}.api_keys must be a boolean`,
    `${field}.api_keys`,
  );
  problems.check(
    raw.forward_credential === undefined || typeof raw.forward_credential === 'boolean',
    `${field}.forward_credential must be a boolean`,
    `${field}.forward_credential`,
  );
  const oidc = parseOidcSettings(problems, `${field}.oidc`, raw.oidc);
  problems.throwIfAny();
  return {
    basic_secret: basic as string | null,
    api_keys: (raw.api_keys as boolean | undefined) ?? DEFAULT_AUTH_SETTINGS.api_keys,
    forward_credential: (raw.forward_credential as boolean | undefined) ?? DEFAULT_AUTH_SETTINGS.forward_credential,
    ...(oidc ? { oidc } : {}),
  };
}
