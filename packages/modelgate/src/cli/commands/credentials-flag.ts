import { type Command, InvalidArgumentError } from 'commander';
import { CREDENTIAL_KINDS, type CredentialKind } from '../../kernel/credential-kinds.js';
import { nearest } from '../../kernel/nearest.js';

/** `--credentials` as parsed: a list of kinds, or `all` (commander keeps no null). */
export type CredentialsFlag = CredentialKind[] | 'all';

/**
 * `--credentials KIND,KIND`: the kinds a protected deployment accepts, or `all` for every kind
 * its other settings turn on. A misspelt kind is refused here with the nearest known one, before
 * any request.
 *
 * @example
 * ```ts
 * credentialList('platform_jwt,api_token'); // ['platform_jwt', 'api_token']
 * credentialList('all'); // 'all'
 * ```
 */
export function credentialList(value: string): CredentialsFlag {
  if (value.trim() === 'all') return 'all';
  const kinds = value.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if ((CREDENTIAL_KINDS as readonly string[]).includes(kind)) continue;
    const near = nearest(kind, CREDENTIAL_KINDS);
    throw new InvalidArgumentError(
      `"${kind}" is not a credential kind${near ? ` (did you mean ${near}?)` : ''}; expected a comma-separated list of ${CREDENTIAL_KINDS.join(', ')}, or all.`,
    );
  }
  return kinds as CredentialKind[];
}

/** The flag as the API's `credentials` setting: null for `all`; undefined when not given. */
export function credentialsSetting(flag: CredentialsFlag | undefined): CredentialKind[] | null | undefined {
  return flag === 'all' ? null : flag;
}

/** Adds `--credentials` to a command that sets auth settings. */
export function addCredentialsFlag(command: Command): Command {
  return command.option(
    '--credentials <kinds>',
    `only these kinds of credential open it, comma-separated: ${CREDENTIAL_KINDS.join(', ')}; or all (the default)`,
    credentialList,
  );
}

/** A kind of credential in words, for `show`. */
export function kindInWords(
  kind: CredentialKind,
  settings: { basic_secret: string | null; oidc?: { issuer: string } },
): string {
  switch (kind) {
    case 'inference_key':
      return 'node inference key';
    case 'basic':
      return `Basic (secret ${settings.basic_secret})`;
    case 'api_key':
      return 'API keys';
    case 'api_token':
      return 'API tokens';
    case 'platform_jwt':
      return 'platform JWTs';
    case 'oidc':
      return `OIDC access tokens of ${settings.oidc?.issuer}`;
  }
}
