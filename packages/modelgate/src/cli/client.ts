import { ModelgateApiError, Transport } from '@modelgate/client';
import { type Command, InvalidArgumentError } from 'commander';
import type { ApiKeyInfo } from '../controlplane/operations/api-keys.js';
import type { DeploymentInfo } from '../controlplane/operations/deployments.js';
import { ModelgateError } from '../kernel/errors.js';
import { ApiRequestError } from './api-error.js';
import {
  type ConnectionEnvironment,
  CREDENTIAL_SOURCE_LABELS,
  type Credential,
  DEFAULT_ENDPOINT,
  KEY_FILE_NAME,
  readLoginContext,
  resolveConnection,
} from './credentials.js';
import { readAllPages } from './list-all.js';
import { outputOption, reportFailure, warn } from './output.js';
import { isUntrustedCertificate, readCaFile, type TlsSettings, tlsFetch, untrustedCertificate } from './tls.js';

export { ApiRequestError } from './api-error.js';

// ---------------------------------------------------------------------------------------------
// Wire shapes of the management API (`/api/v1`), as the CLI reads them.

// The shapes are the control plane's own types (type-only imports: no server code is loaded).
export type { ApiKeyInfo } from '../controlplane/operations/api-keys.js';
export type { Access, DeploymentInfo } from '../controlplane/operations/deployments.js';

/** An API key with the key itself: on creation, and from `reveal`. */
export interface ApiKeyWithKey extends ApiKeyInfo {
  readonly key: string;
}

/** `POST /api/v1/deployments` → 201. */
export interface DeployResponse {
  readonly deployment: DeploymentInfo;
  readonly created: readonly string[];
  readonly generated_secret?: { readonly name: string; readonly value: string };
  readonly api_keys?: readonly ApiKeyWithKey[];
}

export interface SecretInfo {
  readonly name: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/** `POST /api/v1/secrets` → 201 and `PUT /api/v1/secrets/NAME` → 200; `value` only when generated. */
export interface SecretResponse {
  readonly secret: SecretInfo;
  readonly value?: string;
}

// ---------------------------------------------------------------------------------------------
// The client.

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ManagementClientOptions {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8081`. */
  readonly endpoint: string;
  /** Sent as `Authorization: Bearer`; none → the request goes out without one. */
  readonly credential?: Credential | undefined;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** For an `https://` endpoint: `--cacert` or `--insecure` (ignored when `fetch` is given). */
  readonly tls?: TlsSettings;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * A tiny typed client of the management API over global fetch. Failures are
 * `CLI_REQUEST_FAILED` (or `CLI_NO_CREDENTIAL`) errors whose message says what the API said
 * and, when useful, what to do; the credential never appears in them.
 *
 * @example
 * ```ts
 * const client = new ManagementClient({ endpoint: 'http://127.0.0.1:8081', credential });
 * const { deployments } = await client.request<{ deployments: DeploymentInfo[] }>('GET', '/api/v1/deployments');
 * ```
 */
export class ManagementClient {
  readonly endpoint: string;
  readonly #credential: Credential | undefined;
  readonly #timeoutMs: number;
  readonly #tls: TlsSettings;
  #fetch: Promise<typeof fetch> | undefined;

  constructor(options: ManagementClientOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.#credential = options.credential;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#tls = options.tls ?? {};
    this.#fetch = options.fetch ? Promise.resolve(options.fetch) : undefined;
  }

  /** The fetch to use: a TLS-aware one when `--cacert`/`--insecure` say so, made on first use. */
  #fetcher(): Promise<typeof fetch> {
    this.#fetch ??= tlsFetch(this.#tls).then((f) => f ?? fetch);
    return this.#fetch;
  }

  /**
   * Sends one request through the SDK's transport (`@modelgate/client`: the one client of the
   * management API; redirects are not followed); `path` starts with `/` and is appended to the
   * endpoint.
   * @returns the parsed JSON body, or undefined for 204 (or an empty 2xx body).
   */
  async request<T = unknown>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    const transport = new Transport(await this.#fetcher(), this.#credential?.token);
    let result: unknown;
    try {
      result = await transport.sendForBody({
        method,
        url: `${this.endpoint}${path}`,
        json: body,
        headers: { 'user-agent': 'modelgate-cli' },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      if (err instanceof ModelgateApiError) throw this.#failure(err);
      throw this.#unreachable(err);
    }
    if (typeof result === 'string') throw notJson(this.endpoint, 200);
    return result as T;
  }

  #failure(error: ModelgateApiError): ModelgateError {
    const status = error.status;
    if (error.code === 'INVALID_RESPONSE') return notJson(this.endpoint, status);
    if (status >= 300 && status < 400) {
      return new ApiRequestError(
        status,
        undefined,
        `the management API at ${this.endpoint} answered a redirect (HTTP ${status}); the CLI does not follow ` +
          'redirects with a credential: use the final address as --endpoint',
      );
    }
    const code = error.code === 'HTTP_ERROR' ? undefined : error.code;
    const details = error.details?.length ? ` (${error.details.join('; ')})` : '';
    const said = code === undefined ? 'the server answered without a modelgate error body' : error.message;
    const message = this.#redact(`${said}${details} (HTTP ${status})`);
    if (status === 401 && !this.#credential) {
      return new ModelgateError(
        'CLI_NO_CREDENTIAL',
        `${message}. No credential found: run \`modelgate login\`, pass --api-token TOKEN or set MODELGATE_API_TOKEN, ` +
          `or run the command in the directory where \`modelgate start\` wrote ${KEY_FILE_NAME} (its management key is used)`,
      );
    }
    if (status === 401 && this.#credential) {
      const from = CREDENTIAL_SOURCE_LABELS[this.#credential.source];
      const renew =
        this.#credential.source === 'key_file' && code === 'CREDENTIAL_EXPIRED'
          ? `; it lasts token_expiration_min minutes: renew it with \`modelgate token renew --type management\` ` +
            `(POST ${this.endpoint}/token?type=management with the "API" key of the same file)`
          : '';
      return new ApiRequestError(status, code, `${message}, credential from ${from}${renew}`, error.details);
    }
    if (status === 404 && code === 'ROUTE_NOT_FOUND') {
      return new ApiRequestError(
        status,
        code,
        `${message}: is ${this.endpoint} the management API of a modelgate node as recent as this CLI?`,
      );
    }
    return new ApiRequestError(status, code, message, error.details);
  }

  #unreachable(err: unknown): ModelgateError {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      return new ModelgateError(
        'CLI_REQUEST_FAILED',
        `the management API at ${this.endpoint} did not answer within ${Math.round(this.#timeoutMs / 1000)}s`,
      );
    }
    const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
    const code = typeof cause?.code === 'string' ? cause.code : undefined;
    const reason = code ?? (typeof cause?.message === 'string' ? cause.message : String(err));
    if (isUntrustedCertificate(code)) return untrustedCertificate(this.endpoint, reason, this.#tls);
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO') {
      return new ModelgateError(
        'CLI_REQUEST_FAILED',
        `cannot speak TLS with ${this.endpoint} (${reason}): does it listen on http:// rather than https://?`,
      );
    }
    const hint = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'UND_ERR_SOCKET'].includes(
      code ?? '',
    )
      ? `: is \`modelgate start\` running at ${this.endpoint}? (set it with --endpoint or MODELGATE_ENDPOINT)`
      : '';
    return new ModelgateError(
      'CLI_REQUEST_FAILED',
      this.#redact(`cannot reach the management API at ${this.endpoint} (${reason})${hint}`),
    );
  }

  /** Belt and braces: a server should never echo a credential, but if one does, it is not shown. */
  #redact(text: string): string {
    const token = this.#credential?.token;
    return token ? text.replaceAll(token, '[redacted]') : text;
  }
}

/** A 2xx answer that is not the JSON the management API always sends. */
function notJson(endpoint: string, status: number): ModelgateError {
  return new ModelgateError(
    'CLI_REQUEST_FAILED',
    `${status}: the server at ${endpoint} answered with something that is not JSON; is it a modelgate management API?`,
  );
}

/** `/api/v1/<segments>` with each segment percent-encoded. */
export function apiPath(...segments: string[]): string {
  return `/api/v1/${segments.map(encodeURIComponent).join('/')}`;
}

/** A query string from the defined entries (`''` when none). */
export function queryString(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, v);
  const s = search.toString();
  return s === '' ? '' : `?${s}`;
}

// ---------------------------------------------------------------------------------------------
// Glue for commands that talk to the management API.

/** The options every API command takes (commander's camel-cased names). */
export interface ApiOptions {
  readonly endpoint?: string;
  readonly apiToken?: string;
  readonly cacert?: string;
  readonly insecure?: boolean;
  readonly output: 'table' | 'json';
}

/** Adds `--cacert FILE` and `--insecure`, for a management API served over `https://`. */
export function tlsOptions(command: Command): Command {
  return command
    .option(
      '--cacert <file>',
      'PEM file of the CA(s) to trust for an https:// endpoint instead of the system ones (a self-signed node: its certificate_file)',
    )
    .option('--insecure', 'do not verify the https:// certificate at all (warned; for tests only)');
}

/**
 * Adds `--endpoint`, `--api-token`, `--cacert`, `--insecure` and `-o, --output` to a command that
 * calls the management API.
 */
export function apiCommand(command: Command): Command {
  command
    .option(
      '--endpoint <url>',
      `management API URL (else env MODELGATE_ENDPOINT, else the login context's, else ${DEFAULT_ENDPOINT})`,
    )
    .option(
      '--api-token <token>',
      `credential for the management API (else env MODELGATE_API_TOKEN, which stays out of the process list, else the current login context, else the management key in ./${KEY_FILE_NAME})`,
    );
  return tlsOptions(command).addOption(outputOption());
}

/** The TLS settings of the flags (checking a `--cacert` file now), warning about `--insecure`. */
export function tlsFromOptions(opts: Pick<ApiOptions, 'insecure'>, caFile: string | undefined): TlsSettings {
  if (opts.insecure) {
    warn("--insecure: the management API's certificate is not verified; anyone on the path can read the credential");
  }
  return { caFile: caFile === undefined ? undefined : readCaFile(caFile).caFile, insecure: opts.insecure === true };
}

/** Builds the client from flags, environment, the current login context and the working directory. */
export function clientFromOptions(
  opts: Pick<ApiOptions, 'endpoint' | 'apiToken' | 'cacert' | 'insecure'>,
  environment: ConnectionEnvironment = {
    env: process.env,
    cwd: process.cwd(),
    context: readLoginContext(process.env),
  },
): ManagementClient {
  const { endpoint, credential, caFile } = resolveConnection(opts, environment);
  return new ManagementClient({ endpoint, credential, tls: tlsFromOptions(opts, caFile) });
}

/**
 * Runs an API command's body with a client; a failure becomes one message on stderr and the
 * exit status (1 for the API, 2 for usage).
 */
export async function withClient(
  opts: ApiOptions,
  body: (client: ManagementClient, json: boolean) => Promise<void>,
): Promise<void> {
  try {
    await body(clientFromOptions(opts), opts.output === 'json');
  } catch (err) {
    process.exitCode = reportFailure(err);
  }
}

/**
 * Every item of a list endpoint, following `next_cursor` when the API pages. The array is the
 * response's `key` (`deployments`), or `items` for an API that names it so.
 */
export async function listAll<T>(client: ManagementClient, path: string, key: string): Promise<T[]> {
  const body = await readAllPages<Record<string, unknown>>(client, path, key);
  const list = body[key] ?? body.items;
  return Array.isArray(list) ? (list as T[]) : [];
}

/** `key: value` lines with the values aligned. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`).join('\n');
}

/** Commander argument parser for a positive whole number (a usage error otherwise). */
export function positiveInteger(value: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('Expected a positive whole number.');
  return Number(value);
}
