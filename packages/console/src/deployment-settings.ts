import type { components } from '@modelgate/client';

type Deployment = components['schemas']['Deployment'];
type AuthSettings = components['schemas']['AuthSettings'];
type AuthInput = components['schemas']['AuthSettingsInput'];
type Update = components['schemas']['UpdateDeploymentRequest'];

/** A deployment's rate limit as the API takes and shows it (README "Rate limits"). */
export type RateLimit = components['schemas']['RateLimit'];

/** A kind of credential a deployment may accept (`auth.credentials`, `admits`). */
export type CredentialKind = Deployment['admits'][number];

/** Every kind of credential, in the order the console lists them, with its name for people. */
export const CREDENTIAL_KINDS: readonly (readonly [CredentialKind, string])[] = [
  ['basic', 'HTTP Basic'],
  ['api_key', 'API keys'],
  ['api_token', "people's API tokens"],
  ['platform_jwt', 'platform JWTs'],
  ['oidc', 'OIDC access tokens'],
  ['inference_key', "the node's inference key"],
];

/** Short names for a table cell, where the full ones would make the deployments list too wide. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  basic: 'Basic',
  api_key: 'API keys',
  api_token: 'tokens',
  platform_jwt: 'JWTs',
  oidc: 'OIDC',
  inference_key: 'inference key',
};

/** The name people read for a kind of credential (the kind itself for one this console does not know). */
export function kindName(kind: string): string {
  return CREDENTIAL_KINDS.find(([k]) => k === kind)?.[1] ?? kind;
}

/**
 * What a deployment admits, in words: exactly the API's `admits` while protected ("none (public)"
 * when public), in short names for a table with `short`. A node older than `admits` gets the
 * kinds its settings turn on.
 */
export function authMethods(d: Deployment, short = false): string[] {
  if (d.access === 'public') return ['none (public)'];
  if (d.admits) return d.admits.map((kind) => (short ? (SHORT_NAMES[kind] ?? kind) : kindName(kind)));
  const methods = ['inference key', 'platform JWT'];
  if (d.auth.basic_secret) methods.push('Basic');
  if (d.auth.api_keys) methods.push('API keys');
  if (d.auth.oidc?.issuer) methods.push('OIDC');
  return methods;
}

/** A rate limit in words: "2 per hour, each caller its own count"; "none" for none. */
export function rateLimitText(limit: RateLimit | null | undefined): string {
  if (!limit) return 'none';
  const shared = limit.by === 'deployment' ? 'all callers share one count' : 'each caller its own count';
  return `${limit.requests} per ${limit.per}, ${shared}`;
}

/** A version's (or a deployment's) auth settings in words, for the versions table. */
export function authSummary(auth: AuthSettings): string {
  const parts: string[] = [];
  if (auth.basic_secret) parts.push(`Basic (secret ${auth.basic_secret})`);
  if (auth.api_keys) parts.push('API keys');
  if (auth.oidc?.issuer) parts.push(`OIDC from ${auth.oidc.issuer}`);
  if (auth.forward_credential) parts.push('forwards the credential');
  parts.push(auth.credentials ? `only ${auth.credentials.map(kindName).join(', ')}` : 'every kind these turn on');
  return parts.join('; ');
}

/** The form's view of OIDC settings (issuer, audiences, JWKS URL), to tell whether the user changed them. */
function oidcOfForm(oidc: AuthSettings['oidc'] | Record<string, unknown> | null | undefined): string {
  if (!oidc || typeof oidc.issuer !== 'string' || !oidc.issuer) return 'null';
  const audiences = Array.isArray(oidc.audiences) ? oidc.audiences : [];
  return JSON.stringify([oidc.issuer, audiences, oidc.jwks_url ?? null]);
}

const sortedOrNull = (list: readonly string[] | null | undefined) => (list ? JSON.stringify([...list].sort()) : 'null');
const limitKey = (l: RateLimit | null | undefined) =>
  l ? JSON.stringify([l.requests, l.per, l.by ?? 'credential']) : 'null';

/**
 * The PATCH of an edit: only what the user changed against the deployment as loaded (an auth
 * setting left alone is left out, so the API keeps it: README "A change names only what it
 * changes"). Empty when nothing changed.
 *
 * @example
 * ```ts
 * changesOf(deployment, { upstream: deployment.upstream, access: 'protected', auth: deployment.auth, rateLimit: null });
 * // → { rate_limit: null } when the deployment had a limit
 * ```
 */
export function changesOf(
  d: Deployment,
  v: { upstream: string; access: 'public' | 'protected'; auth: AuthInput; rateLimit: RateLimit | null },
): Update {
  const auth: AuthInput = {};
  if ((v.auth.basic_secret ?? null) !== (d.auth.basic_secret ?? null)) auth.basic_secret = v.auth.basic_secret ?? null;
  if ((v.auth.api_keys ?? false) !== (d.auth.api_keys ?? false)) auth.api_keys = v.auth.api_keys ?? false;
  if ((v.auth.forward_credential ?? false) !== (d.auth.forward_credential ?? false)) {
    auth.forward_credential = v.auth.forward_credential ?? false;
  }
  if (oidcOfForm(v.auth.oidc) !== oidcOfForm(d.auth.oidc)) auth.oidc = v.auth.oidc ?? null;
  if (sortedOrNull(v.auth.credentials) !== sortedOrNull(d.auth.credentials))
    auth.credentials = v.auth.credentials ?? null;
  return {
    ...(v.upstream !== d.upstream ? { upstream: v.upstream } : {}),
    ...(v.access !== d.access ? { access: v.access } : {}),
    ...(Object.keys(auth).length > 0 ? { auth } : {}),
    ...(limitKey(v.rateLimit) !== limitKey(d.rate_limit) ? { rate_limit: v.rateLimit } : {}),
  };
}
