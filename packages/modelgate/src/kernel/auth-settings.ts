import { type CredentialKind, checkAdmitsSome, checkCredentialList } from './credential-kinds.js';
import { type OidcSettings, parseOidcSettings } from './oidc-settings.js';
import { Problems, SECRET_NAME_PATTERN } from './validation.js';

/**
 * How a protected deployment checks callers. Defined on a service version at design time (D6)
 * and optionally overridden per deployment (D7). `credentials` narrows which kinds are taken.
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
  /**
   * The kinds of credential taken (`admittedKinds`); null for every kind the settings above turn
   * on, with the node inference key, API tokens and platform JWTs (as before the list existed).
   */
  readonly credentials: readonly CredentialKind[] | null;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = Object.freeze({
  basic_secret: null,
  api_keys: true,
  forward_credential: false,
  credentials: null,
});

/** Validates user input into settings, filling defaults; throws VALIDATION_FAILED with every problem. */
export function parseAuthSettings(input: unknown, field = 'auth'): AuthSettings {
  const settings = parseAuthFields(input, field);
  checkAuthSettings(settings, field);
  return settings;
}

/** Checks what holds between settings (the list leaves some way in); throws VALIDATION_FAILED. */
export function checkAuthSettings(settings: AuthSettings, field = 'auth'): void {
  const problems = new Problems();
  checkAdmitsSome(problems, field, settings);
  problems.throwIfAny();
}

/** Each field checked on its own, defaults filled: what a whole setting and a change share. */
function parseAuthFields(input: unknown, field: string): AuthSettings {
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
  checkCredentialList(problems, `${field}.credentials`, raw.credentials);
  problems.throwIfAny();
  return {
    basic_secret: basic as string | null,
    api_keys: (raw.api_keys as boolean | undefined) ?? DEFAULT_AUTH_SETTINGS.api_keys,
    forward_credential: (raw.forward_credential as boolean | undefined) ?? DEFAULT_AUTH_SETTINGS.forward_credential,
    ...(oidc ? { oidc } : {}),
    credentials: (raw.credentials as CredentialKind[] | null | undefined) ?? null,
  };
}

/** The settings a change names; `oidc: null` removes the external issuer. */
export type AuthSettingsPatch = Partial<Omit<AuthSettings, 'oidc'>> & { readonly oidc?: OidcSettings | null };

/**
 * Validates a change of auth settings: only the keys present are checked and returned, so a change
 * that names `api_keys` leaves the Basic secret, the external issuer and the rest as they are.
 */
export function parseAuthSettingsPatch(input: unknown, field = 'auth'): AuthSettingsPatch {
  // Between-settings rules wait for the merge (`checkAuthSettings`): a change is judged as applied.
  const full = parseAuthFields(input, field);
  const raw = (input ?? {}) as Record<string, unknown>;
  const patch: { -readonly [K in keyof AuthSettingsPatch]: AuthSettingsPatch[K] } = {};
  if ('basic_secret' in raw) patch.basic_secret = full.basic_secret;
  if ('api_keys' in raw) patch.api_keys = full.api_keys;
  if ('forward_credential' in raw) patch.forward_credential = full.forward_credential;
  if ('oidc' in raw) patch.oidc = full.oidc ?? null;
  if ('credentials' in raw) patch.credentials = full.credentials;
  return patch;
}

/** `current` with what `patch` names changed (JSON merge patch: `oidc: null` removes it). */
export function mergeAuthSettings(current: AuthSettings, patch: AuthSettingsPatch): AuthSettings {
  const { oidc: currentOidc, ...rest } = current;
  const { oidc: nextOidc, ...named } = patch;
  const oidc = nextOidc === undefined ? currentOidc : nextOidc;
  return { ...rest, ...named, ...(oidc ? { oidc } : {}) };
}
