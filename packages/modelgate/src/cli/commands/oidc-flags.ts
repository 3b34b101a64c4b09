import { type Command, InvalidArgumentError } from 'commander';
import { OIDC_ALGORITHMS, type OidcSettings } from '../../kernel/oidc-settings.js';

/** The `--oidc-*` flags as commander collects them; `oidc: false` is `--no-oidc`. */
export interface OidcFlags {
  readonly oidcIssuer?: string;
  readonly oidcAudience?: string[];
  readonly oidcJwksUrl?: string;
  readonly oidcAlgorithm?: string[];
  readonly oidcRequiredClaim?: [string, string][];
  readonly oidcRequiredScope?: string[];
  readonly oidcClockSkew?: number;
  readonly oidc?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function claim(value: string, previous: [string, string][] = []): [string, string][] {
  const at = value.indexOf('=');
  if (at < 1) throw new InvalidArgumentError('Expected NAME=VALUE, e.g. tenant=acme.');
  return [...previous, [value.slice(0, at), value.slice(at + 1)]];
}

function algorithm(value: string, previous: string[] = []): string[] {
  if (!OIDC_ALGORITHMS.includes(value)) {
    throw new InvalidArgumentError(`Expected one of ${OIDC_ALGORITHMS.join(', ')}.`);
  }
  return [...previous, value];
}

function seconds(value: string): number {
  if (!/^[0-9]{1,3}$/.test(value)) throw new InvalidArgumentError('Expected whole seconds, 0 to 300.');
  return Number(value);
}

/**
 * Adds the flags of an external OAuth2/OIDC issuer (D8) whose access tokens the deployment (or
 * version) accepts; with `removable`, also `--no-oidc`. The API checks the values.
 */
export function addOidcFlags(command: Command, removable: boolean): Command {
  command
    .option('--oidc-issuer <url>', 'accept access tokens of this OAuth2/OIDC issuer (its exact `iss`)')
    .option('--oidc-audience <aud>', 'an accepted `aud` (repeatable; at least one with --oidc-issuer)', collect)
    .option('--oidc-jwks-url <url>', "the issuer's JWKS (default: found by OpenID discovery)")
    .option(
      '--oidc-algorithm <alg>',
      `an accepted signature algorithm (repeatable; default RS256, ES256, EdDSA; one of ${OIDC_ALGORITHMS.join(', ')})`,
      algorithm,
    )
    .option('--oidc-required-claim <name=value>', 'a claim tokens must carry with this value (repeatable)', claim)
    .option('--oidc-required-scope <scope>', 'a scope tokens must grant, else 403 (repeatable)', collect)
    .option('--oidc-clock-skew <seconds>', 'clock skew tolerated on exp, nbf and iat (default 60)', seconds);
  if (removable) command.option('--no-oidc', 'stop accepting external OIDC tokens');
  return command;
}

/** Whether any `--oidc-*` flag (or `--no-oidc`) was given. */
export function touchesOidc(flags: OidcFlags): boolean {
  return (
    flags.oidc === false ||
    [
      flags.oidcIssuer,
      flags.oidcAudience,
      flags.oidcJwksUrl,
      flags.oidcAlgorithm,
      flags.oidcRequiredClaim,
      flags.oidcRequiredScope,
      flags.oidcClockSkew,
    ].some((v) => v !== undefined)
  );
}

/**
 * The `oidc` setting the flags ask for: undefined when none is given, null for `--no-oidc`, else
 * `current` (the deployment's issuer, when changing one) with what the flags name replaced.
 */
export function oidcFromFlags(flags: OidcFlags, current?: OidcSettings): Record<string, unknown> | null | undefined {
  if (flags.oidc === false) return null;
  if (!touchesOidc(flags)) return undefined;
  const next: Record<string, unknown> = { ...(current ?? {}) };
  if (flags.oidcIssuer !== undefined) next.issuer = flags.oidcIssuer;
  if (flags.oidcAudience !== undefined) next.audiences = flags.oidcAudience;
  if (flags.oidcJwksUrl !== undefined) next.jwks_url = flags.oidcJwksUrl;
  if (flags.oidcAlgorithm !== undefined) next.algorithms = flags.oidcAlgorithm;
  if (flags.oidcRequiredClaim !== undefined) next.required_claims = Object.fromEntries(flags.oidcRequiredClaim);
  if (flags.oidcRequiredScope !== undefined) next.required_scopes = flags.oidcRequiredScope;
  if (flags.oidcClockSkew !== undefined) next.clock_skew_s = flags.oidcClockSkew;
  return next;
}

/** One line about an external issuer, for `show` commands; OIDC settings hold no secret. */
export function describeOidc(oidc: OidcSettings): string {
  const parts = [
    `issuer ${oidc.issuer}`,
    `audiences ${oidc.audiences.join(', ')}`,
    `keys ${oidc.jwks_url ?? 'by OpenID discovery'}`,
    `algorithms ${oidc.algorithms.join(', ')}`,
    ...(Object.keys(oidc.required_claims).length > 0
      ? [
          `required claims ${Object.entries(oidc.required_claims)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`,
        ]
      : []),
    ...(oidc.required_scopes.length > 0 ? [`required scopes ${oidc.required_scopes.join(' ')}`] : []),
    `clock skew ${oidc.clock_skew_s}s`,
  ];
  return parts.join('; ');
}
