import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelgateError } from '../kernel/errors.js';
import { contextsPath, currentContext, type LoginContext, readContextsFile } from './contexts.js';

/** Where the management API listens when nothing says otherwise (DESIGN: `management_address`). */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8081';

/** The key file `modelgate start` writes in its working directory (TorchServe's shape). */
export const KEY_FILE_NAME = 'key_file.json';

/** Where a credential came from; shown in hints instead of the credential itself. */
export type CredentialSource = 'flag' | 'env' | 'login' | 'key_file' | 'key_file_api' | 'prompt';

/** The bearer credential the CLI sends. Never print `token`, not even in an error. */
export interface Credential {
  readonly token: string;
  readonly source: CredentialSource;
}

/** How a user sees each source named in messages. */
export const CREDENTIAL_SOURCE_LABELS: Readonly<Record<CredentialSource, string>> = {
  flag: '--api-token',
  env: 'MODELGATE_API_TOKEN',
  login: 'the current login context',
  key_file: `the management key in ./${KEY_FILE_NAME}`,
  key_file_api: `the "API" key of the key file (\`token renew\`)`,
  prompt: 'the token given to `modelgate login`',
};

/** What the CLI's flags contribute; all optional. */
export interface ConnectionFlags {
  readonly endpoint?: unknown;
  readonly apiToken?: unknown;
  readonly cacert?: unknown;
}

/** What finding the endpoint and credential reads besides flags; tests pass their own. */
export interface ConnectionEnvironment {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The current login context, read at the edge by `readLoginContext`. */
  readonly context?: LoginContext | undefined;
}

/** Where the CLI connects, with what, and which CA file it trusts for `https://`. */
export interface Connection {
  readonly endpoint: string;
  readonly credential: Credential | undefined;
  readonly caFile: string | undefined;
}

/**
 * Decides the whole connection: the endpoint (`--endpoint`, `MODELGATE_ENDPOINT`, the current
 * context, the default), the credential (`--api-token`, `MODELGATE_API_TOKEN`, the current
 * context, `./key_file.json`) and the CA file (`--cacert`, the context's). The context's token and
 * CA go only to the context's own endpoint: `--endpoint` elsewhere never receives them.
 *
 * @example
 * ```ts
 * const { endpoint, credential } = resolveConnection(opts, { env: process.env, cwd: process.cwd(), context });
 * ```
 */
export function resolveConnection(flags: ConnectionFlags, environment: ConnectionEnvironment): Connection {
  const endpoint = resolveEndpoint(flags, environment);
  const context =
    environment.context && sameEndpoint(environment.context.endpoint, endpoint) ? environment.context : undefined;
  const credential = resolveCredential(flags, { ...environment, context });
  const caFile = typeof flags.cacert === 'string' ? flags.cacert : context?.cacert;
  return { endpoint, credential, caFile };
}

function sameEndpoint(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * Finds the CLI's credential: `--api-token`, then `MODELGATE_API_TOKEN`, then the given login
 * context (`resolveConnection` passes it only for its own endpoint), then the `management` key in
 * `./key_file.json`. Undefined when there is none: the
 * request then goes out without one (a node with token authorization disabled takes it).
 *
 * @example
 * ```ts
 * const credential = resolveCredential({ apiToken: opts.apiToken }, { env: process.env, cwd: process.cwd() });
 * ```
 */
export function resolveCredential(flags: ConnectionFlags, environment: ConnectionEnvironment): Credential | undefined {
  if (flags.apiToken !== undefined) {
    if (typeof flags.apiToken !== 'string' || flags.apiToken.trim() === '') {
      throw new ModelgateError('CLI_USAGE', '--api-token is empty');
    }
    return { token: flags.apiToken.trim(), source: 'flag' };
  }
  const fromEnv = environment.env.MODELGATE_API_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: 'env' };
  if (environment.context) return { token: environment.context.api_token, source: 'login' };
  const fromKeyFile = readKeyFileManagementKey(environment.cwd);
  if (fromKeyFile) return { token: fromKeyFile, source: 'key_file' };
  return undefined;
}

/**
 * The current context saved by `modelgate login` (FEATURES B4), from
 * `$XDG_CONFIG_HOME/modelgate/contexts.json`; undefined when none is current. A damaged file is an
 * error rather than a silent fall-through to another credential.
 */
export function readLoginContext(env: NodeJS.ProcessEnv): LoginContext | undefined {
  return currentContext(readContextsFile(contextsPath(env)));
}

/**
 * The `management.key` of `<cwd>/key_file.json`, or undefined when the file is missing,
 * unreadable or not of TorchServe's shape. An expired key is still returned: the API says so.
 */
export function readKeyFileManagementKey(cwd: string): string | undefined {
  return readKeyFileKey(join(cwd, KEY_FILE_NAME), 'management');
}

/**
 * One key of a TorchServe `key_file.json` (`management`, `inference` or `API`), or undefined
 * when the file is missing, unreadable or not of that shape.
 */
export function readKeyFileKey(path: string, section: 'management' | 'inference' | 'API'): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const entry = (parsed as Record<string, unknown>)[section];
  if (typeof entry !== 'object' || entry === null) return undefined;
  const key = (entry as { key?: unknown }).key;
  return typeof key === 'string' && key.trim() !== '' ? key.trim() : undefined;
}

/**
 * Finds the management API's base URL: `--endpoint`, then `MODELGATE_ENDPOINT`, then the given
 * login context's, else `http://127.0.0.1:8081`. Returned without a trailing slash; a URL with a user or password is
 * refused (credentials go in `--api-token`, and the URL is shown in messages).
 */
export function resolveEndpoint(
  flags: ConnectionFlags,
  environment: Pick<ConnectionEnvironment, 'env' | 'context'>,
): string {
  let raw: string;
  let from: string;
  if (flags.endpoint !== undefined) {
    raw = typeof flags.endpoint === 'string' ? flags.endpoint.trim() : '';
    from = '--endpoint';
  } else if (environment.env.MODELGATE_ENDPOINT?.trim()) {
    raw = environment.env.MODELGATE_ENDPOINT.trim();
    from = 'MODELGATE_ENDPOINT';
  } else if (environment.context) {
    raw = environment.context.endpoint;
    from = `the endpoint of login context "${environment.context.name}"`;
  } else {
    return DEFAULT_ENDPOINT;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ModelgateError('CLI_USAGE', `${from} must be an http:// or https:// URL such as ${DEFAULT_ENDPOINT}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ModelgateError('CLI_USAGE', `${from} must be an http:// or https:// URL such as ${DEFAULT_ENDPOINT}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ModelgateError(
      'CLI_USAGE',
      `${from} must not contain a user or password; pass the credential with --api-token`,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    throw new ModelgateError('CLI_USAGE', `${from} must not have a query or fragment`);
  }
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
