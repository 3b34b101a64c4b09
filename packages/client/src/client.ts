import type {
  ApiPath,
  CallOptions,
  CreateDeploymentInput,
  CreatedDeployment,
  CreatedToken,
  CreateTokenInput,
  Deployment,
  DeploymentList,
  DeploymentListQuery,
  MethodsOf,
  RequestOptions,
  ResponseBody,
  RolledToken,
  RollTokenInput,
  TokenInfo,
  TokenList,
  TokenListQuery,
  UpdateDeploymentInput,
  WhoAmI,
} from './api-types.js';
import { DeploymentClient } from './deployment.js';
import { type PagedList, paginate } from './paging.js';
import { callOptions, checkEndpoint, checkToken, type FetchLike, Transport } from './transport.js';

/** Options of {@link Client}. */
export interface ClientOptions {
  /**
   * The credential, sent as `Authorization: Bearer <token>`: an API token (`mgt_`), the node's
   * management key, an admin key or a session. Omit it for a node with token authorization off.
   */
  readonly token?: string | undefined;
  /**
   * The gateway (data plane) base URL for {@link Client.deployment}. Default: the management
   * endpoint's host on port 8080 when the management endpoint is on port 8081 (the node's
   * default layout); otherwise it must be given.
   */
  readonly inferenceEndpoint?: string | undefined;
  /** The `fetch` to use (default: the global one); e.g. a wrapper that adds a proxy or retries. */
  readonly fetch?: FetchLike | undefined;
}

/**
 * The modelgate client: typed calls to the management API (`/api/v1`, types generated from its
 * OpenAPI document) and inference calls to deployments through the gateway. Runs on Node 20+
 * and in browsers; it has no dependencies and needs only `fetch`.
 *
 * @example
 * ```ts
 * import { Client } from '@modelgate/client';
 *
 * const client = new Client('http://127.0.0.1:8081', { token: process.env.MODELGATE_API_TOKEN });
 * console.log(await client.whoami());
 * await client.deployments.create({ name: 'sentiment', upstream: 'http://127.0.0.1:9000', access: 'protected' });
 * const answer = await client.deployment('sentiment').post('/predictions/sentiment', { text: 'great' });
 * ```
 */
export class Client {
  /** The management API base URL, without a trailing slash. */
  readonly endpoint: string;
  /** The gateway base URL used by {@link Client.deployment} (undefined when it cannot be derived). */
  readonly inferenceEndpoint: string | undefined;
  private readonly transport: Transport;
  private readonly fetchImpl: FetchLike;

  /**
   * @param endpoint The management API, e.g. `http://127.0.0.1:8081`.
   * @throws TypeError for an endpoint that is not an http(s) URL or a token a header cannot carry.
   */
  constructor(endpoint: string, options: ClientOptions = {}) {
    this.endpoint = checkEndpoint(endpoint, 'management endpoint');
    this.inferenceEndpoint =
      options.inferenceEndpoint === undefined
        ? deriveInferenceEndpoint(this.endpoint)
        : checkEndpoint(options.inferenceEndpoint, 'inference endpoint');
    const globalFetch: FetchLike | undefined =
      typeof globalThis.fetch === 'function' ? (input, init) => globalThis.fetch(input, init) : undefined;
    const fetchImpl = options.fetch ?? globalFetch;
    if (!fetchImpl) throw new TypeError('No fetch: pass options.fetch on a runtime without a global fetch');
    this.fetchImpl = fetchImpl;
    this.transport = new Transport(fetchImpl, checkToken(options.token));
  }

  /**
   * Calls any management API operation, typed from the OpenAPI document by path and method:
   * path parameters, query and body are checked, the answer is typed.
   *
   * @example
   * ```ts
   * const { services } = await client.request('get', '/api/v1/services');
   * await client.request('post', '/api/v1/deployments/{name}/disable', { params: { name: 'demo' } });
   * ```
   */
  request<P extends ApiPath, M extends MethodsOf<P>>(
    method: M,
    path: P,
    ...[options]: Partial<RequestOptions<P, M>> extends RequestOptions<P, M>
      ? [options?: RequestOptions<P, M>]
      : [options: RequestOptions<P, M>]
  ): Promise<ResponseBody<P, M>> {
    const o = (options ?? {}) as CallOptions & { params?: object; query?: object; body?: unknown };
    return this.call(method, path, o.params, o.query, o.body, o);
  }

  /**
   * Names the caller: the kind of credential and its id, and for a user the name, groups and
   * global privileges.
   *
   * @example
   * ```ts
   * const me = await client.whoami(); // { kind: 'api_token', id: '...', privileges: [] }
   * ```
   */
  whoami(options: CallOptions = {}): Promise<WhoAmI> {
    return this.call('get', '/api/v1/whoami', undefined, undefined, undefined, options);
  }

  /**
   * Deployments (`/api/v1/deployments`).
   *
   * @example
   * ```ts
   * await client.deployments.create({ name: 'demo', upstream: 'http://127.0.0.1:9000', access: 'protected' });
   * const { deployments, next_cursor } = await client.deployments.list({ limit: '50' }); // one page
   * for await (const d of client.deployments.listAll()) console.log(d.name); // every page
   * await client.deployments.update('demo', { access: 'public' });
   * await client.deployments.delete('demo');
   * ```
   */
  readonly deployments = {
    /** One page of the deployments the caller may see (`next_cursor` names the following one). */
    list: (query?: DeploymentListQuery, options: CallOptions = {}): Promise<DeploymentList> =>
      this.request('get', '/api/v1/deployments', { ...callOptions(options), query }),
    /** Every deployment the caller may see, following `next_cursor` page by page. */
    listAll: (
      query?: Omit<NonNullable<DeploymentListQuery>, 'cursor'>,
      options: CallOptions = {},
    ): PagedList<Deployment> =>
      paginate(
        (cursor) => this.deployments.list({ ...query, cursor }, options),
        (page) => page.deployments,
      ),
    /** One deployment; `RESOURCE_NOT_FOUND` (404) when it does not exist or is hidden from the caller. */
    get: (name: string, options: CallOptions = {}): Promise<Deployment> =>
      this.request('get', '/api/v1/deployments/{name}', { ...callOptions(options), params: { name } }),
    /** Creates a deployment (and its infrastructure, service, version when missing). */
    create: (input: CreateDeploymentInput, options: CallOptions = {}): Promise<CreatedDeployment> =>
      this.request('post', '/api/v1/deployments', { ...callOptions(options), body: input }),
    /** Changes a deployment: a new revision. */
    update: (name: string, changes: UpdateDeploymentInput, options: CallOptions = {}): Promise<Deployment> =>
      this.request('patch', '/api/v1/deployments/{name}', { ...callOptions(options), params: { name }, body: changes }),
    /** Deletes a deployment and its API keys. */
    delete: async (name: string, options: CallOptions = {}): Promise<void> => {
      await this.request('delete', '/api/v1/deployments/{name}', { ...callOptions(options), params: { name } });
    },
    /** A new revision that picks up the Basic secret's current value. */
    redeploy: (name: string, options: CallOptions = {}): Promise<Deployment> =>
      this.request('post', '/api/v1/deployments/{name}/redeploy', { ...callOptions(options), params: { name } }),
    /** Enables a deployment. */
    enable: (name: string, options: CallOptions = {}): Promise<Deployment> =>
      this.request('post', '/api/v1/deployments/{name}/enable', { ...callOptions(options), params: { name } }),
    /** Disables a deployment (the gateway answers 503 for it). */
    disable: (name: string, options: CallOptions = {}): Promise<Deployment> =>
      this.request('post', '/api/v1/deployments/{name}/disable', { ...callOptions(options), params: { name } }),
  };

  /**
   * API tokens (`/api/v1/tokens`): the caller's own, or (admins) anyone's with `{ all: 'true' }`
   * or `{ user }`. The secret is in the answers of `create` and `roll` only.
   *
   * @example
   * ```ts
   * const { id, token } = await client.tokens.create({ name: 'ci', ops_access: false, endpoint_access: { all: true } });
   * const { tokens, next_cursor } = await client.tokens.list(); // one page
   * for await (const t of client.tokens.listAll()) console.log(t.name, t.state); // every page
   * const successor = await client.tokens.roll(id, { grace_seconds: 3600 });
   * await client.tokens.delete(id);
   * ```
   */
  readonly tokens = {
    /** Creates a token; the answer's `token` is shown this once. */
    create: (input: CreateTokenInput, options: CallOptions = {}): Promise<CreatedToken> =>
      this.request('post', '/api/v1/tokens', { ...callOptions(options), body: input }),
    /** One page of tokens (name, description, prefix, access, dates, state; never the secret). */
    list: (query?: TokenListQuery, options: CallOptions = {}): Promise<TokenList> =>
      this.request('get', '/api/v1/tokens', { ...callOptions(options), query }),
    /** Every token of every page, following `next_cursor` (same query on every page). */
    listAll: (query?: Omit<NonNullable<TokenListQuery>, 'cursor'>, options: CallOptions = {}): PagedList<TokenInfo> =>
      paginate(
        (cursor) => this.tokens.list({ ...query, cursor }, options),
        (page) => page.tokens,
      ),
    /**
     * Issues a successor with the same name, access and expiry; the old token keeps working for
     * `grace_seconds` (0, the default: refused at once).
     */
    roll: (id: string, input: RollTokenInput = {}, options: CallOptions = {}): Promise<RolledToken> =>
      this.request('post', '/api/v1/tokens/{id}/roll', { ...callOptions(options), params: { id }, body: input }),
    /** Revokes a token at once: its next request is refused. */
    delete: async (id: string, options: CallOptions = {}): Promise<void> => {
      await this.request('delete', '/api/v1/tokens/{id}', { ...callOptions(options), params: { id } });
    },
  };

  /**
   * A handle for inference calls to one deployment through the gateway. `token` replaces the
   * client's credential for these calls (an API token with endpoint access, an API key, the
   * node's inference key).
   *
   * @example
   * ```ts
   * const demo = client.deployment('demo', { token: process.env.INFERENCE_KEY });
   * const reply = await demo.post('/v1/chat/completions', { model: 'modelgate-demo', messages });
   * ```
   * @throws TypeError when the name is not one path segment, or no inference endpoint is known.
   */
  deployment(name: string, options: { readonly token?: string } = {}): DeploymentClient {
    if (this.inferenceEndpoint === undefined) {
      throw new TypeError(
        'No inference endpoint: pass options.inferenceEndpoint (it is derived only from a management endpoint on port 8081)',
      );
    }
    const transport =
      options.token === undefined ? this.transport : new Transport(this.fetchImpl, checkToken(options.token));
    return new DeploymentClient(name, this.inferenceEndpoint, transport);
  }

  /** One management call with path parameters filled in (percent-encoded) and a query string. */
  private call<T>(
    method: string,
    template: string,
    params: object | undefined,
    query: object | undefined,
    body: unknown,
    options: CallOptions,
  ): Promise<T> {
    return this.transport.sendForBody<T>({
      ...callOptions(options),
      method: method.toUpperCase(),
      url: this.endpoint + fillPath(template, params) + queryString(query),
      json: body,
    });
  }
}

/** `/api/v1/deployments/{name}` + `{ name: 'a/b' }` → `/api/v1/deployments/a%2Fb`. */
export function fillPath(template: string, params: object | undefined): string {
  const values = (params ?? {}) as Record<string, unknown>;
  return template.replace(/\{([^}]+)\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined || value === null || value === '') {
      throw new TypeError(`The path parameter "${key}" is missing`);
    }
    return encodeURIComponent(String(value));
  });
}

/** `{ limit: 10, cursor: undefined }` → `?limit=10`; arrays repeat the key. */
export function queryString(query: object | undefined): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * The gateway URL for a management endpoint in the node's default layout (management on 8081,
 * inference on 8080, same host and scheme); undefined otherwise.
 */
export function deriveInferenceEndpoint(managementEndpoint: string): string | undefined {
  const url = new URL(managementEndpoint);
  if (url.port !== '8081') return undefined;
  url.port = '8080';
  return url.origin;
}
