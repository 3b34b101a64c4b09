import { nearest } from './nearest.js';
import type { OidcSettings } from './oidc-settings.js';
import type { Problems } from './validation.js';

/**
 * The kinds of credential a protected deployment can accept (issue 22, "JWT only"): HTTP Basic,
 * the deployment's API keys, people's API tokens, platform JWTs, an external issuer's OIDC access
 * tokens and the node's inference key. A deployment's `credentials` list narrows them; without a
 * list it takes every kind its other settings turn on, as before the list existed.
 */
export const CREDENTIAL_KINDS = ['basic', 'api_key', 'api_token', 'platform_jwt', 'oidc', 'inference_key'] as const;

export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** The settings that turn kinds on, besides the list itself. */
interface KindSwitches {
  readonly basic_secret: string | null;
  readonly api_keys: boolean;
  readonly oidc?: OidcSettings | null | undefined;
  readonly credentials?: readonly CredentialKind[] | null | undefined;
}

/** The setting a kind needs, for kinds that need one: its name and whether it is on. */
function switchOf(
  kind: CredentialKind,
  settings: KindSwitches,
): { readonly needs: string; readonly on: boolean } | null {
  if (kind === 'basic') return { needs: 'a Basic secret (basic_secret)', on: settings.basic_secret !== null };
  if (kind === 'api_key') return { needs: 'API keys turned on (api_keys: true)', on: settings.api_keys };
  if (kind === 'oidc')
    return { needs: 'an OIDC issuer (oidc)', on: settings.oidc !== undefined && settings.oidc !== null };
  return null;
}

/**
 * The kinds a protected deployment with these settings admits, in {@link CREDENTIAL_KINDS} order:
 * the listed ones (all when there is no list) whose own setting is on.
 *
 * @example
 * ```ts
 * admittedKinds({ basic_secret: null, api_keys: true }); // ['api_key', 'api_token', 'platform_jwt', 'inference_key']
 * admittedKinds({ basic_secret: null, api_keys: true, credentials: ['platform_jwt'] }); // ['platform_jwt']
 * ```
 */
export function admittedKinds(settings: KindSwitches): CredentialKind[] {
  const listed = settings.credentials ?? CREDENTIAL_KINDS;
  return CREDENTIAL_KINDS.filter((kind) => listed.includes(kind) && (switchOf(kind, settings)?.on ?? true));
}

/**
 * Checks a `credentials` value: null (every kind) or a non-empty list of known kinds without
 * repeats. A misspelt kind is named with the nearest known one.
 */
export function checkCredentialList(problems: Problems, field: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) {
    problems.check(
      false,
      `${field} must be a list of credential kinds (${CREDENTIAL_KINDS.join(', ')}) or null`,
      field,
    );
    return;
  }
  problems.check(
    value.length > 0,
    `${field} must name at least one credential kind (null accepts every kind; to refuse everyone, disable the deployment)`,
    field,
  );
  for (const kind of value) {
    if (typeof kind === 'string' && (CREDENTIAL_KINDS as readonly string[]).includes(kind)) continue;
    const near = typeof kind === 'string' ? nearest(kind, CREDENTIAL_KINDS) : undefined;
    const hint = near ? `; did you mean ${near}?` : `; known kinds: ${CREDENTIAL_KINDS.join(', ')}`;
    problems.check(false, `${field} names an unknown credential kind ${JSON.stringify(kind)}${hint}`, field);
  }
  problems.check(new Set(value).size === value.length, `${field} names a kind more than once`, field);
}

/**
 * Checks that a list leaves some way in: a kind it names counts only while its own setting is on
 * (`admittedKinds`), and a protected deployment that would admit nothing is a mistake, not a
 * way to close it (disable it instead).
 */
export function checkAdmitsSome(problems: Problems, field: string, settings: KindSwitches): void {
  const listed = settings.credentials;
  if (!listed || listed.length === 0 || admittedKinds(settings).length > 0) return;
  const needs = listed.map((kind) => `${kind} needs ${switchOf(kind, settings)?.needs}`).join(', ');
  problems.check(
    false,
    `${field}.credentials would admit no credential (${needs}); turn one of those on or list another kind`,
    `${field}.credentials`,
  );
}
