import type { components, paths } from './generated/openapi.js';

/**
 * Types of the management API, derived from the generated OpenAPI types (`generated/openapi.ts`)
 * by path and method, so a change of the server's schemas changes them on the next
 * `npm run generate`. Nothing here is written by hand.
 */

/** Every path of the management API, e.g. `'/api/v1/deployments/{name}'`. */
export type ApiPath = keyof paths;

/** HTTP methods as the OpenAPI types name them. */
export type ApiMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The operation at a path and method (`never` when the path has no such method). */
export type Operation<P extends ApiPath, M extends ApiMethod> = Exclude<paths[P][M], undefined>;

/** The methods a path answers. */
export type MethodsOf<P extends ApiPath> = {
  [M in ApiMethod]: [Operation<P, M>] extends [never] ? never : M;
}[ApiMethod];

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : undefined;
type SuccessStatus = 200 | 201 | 202 | 203 | 204;

/** The JSON body of the operation's success answer (`undefined` when it has none). */
export type ResponseBody<P extends ApiPath, M extends ApiMethod> =
  Operation<P, M> extends { responses: infer R } ? JsonOf<R[Extract<keyof R, SuccessStatus>]> : never;

/** The JSON request body of the operation (`never` when it takes none). */
export type RequestBody<P extends ApiPath, M extends ApiMethod> =
  Operation<P, M> extends { requestBody?: infer B }
    ? [Exclude<B, undefined>] extends [never]
      ? never
      : Exclude<B, undefined> extends { content: { 'application/json': infer J } }
        ? J
        : never
    : never;

type ParametersOf<P extends ApiPath, M extends ApiMethod, K extends 'query' | 'path'> =
  Operation<P, M> extends { parameters: infer Ps }
    ? Ps extends { [k in K]?: infer Q }
      ? [Exclude<Q, undefined>] extends [never]
        ? never
        : Exclude<Q, undefined>
      : never
    : never;

/** The query parameters of the operation (`never` when it takes none). */
export type QueryOf<P extends ApiPath, M extends ApiMethod> = ParametersOf<P, M, 'query'>;

/** The path parameters of the operation (`never` when the path has none). */
export type PathParamsOf<P extends ApiPath, M extends ApiMethod> = ParametersOf<P, M, 'path'>;

/**
 * The options of {@link Client.request} for one operation: path parameters, query and body,
 * each present only when the operation takes it.
 */
export type RequestOptions<P extends ApiPath, M extends ApiMethod> = CallOptions &
  ([PathParamsOf<P, M>] extends [never] ? { params?: never } : { params: PathParamsOf<P, M> }) &
  ([QueryOf<P, M>] extends [never] ? { query?: never } : { query?: QueryOf<P, M> }) &
  ([RequestBody<P, M>] extends [never] ? { body?: never } : { body: RequestBody<P, M> });

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call (and, for a stream, closes the connection). */
  readonly signal?: AbortSignal | undefined;
  /** Extra request headers (the SDK's `Authorization` wins over one given here). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

// ---- Resources ------------------------------------------------------------------------------

/** A deployment as the management API shows it. */
export type Deployment = ResponseBody<'/api/v1/deployments/{name}', 'get'>;
/** The answer of `GET /api/v1/deployments`. */
export type DeploymentList = ResponseBody<'/api/v1/deployments', 'get'>;
/** Query parameters of `GET /api/v1/deployments` (paging, when the server offers it). */
export type DeploymentListQuery = QueryOf<'/api/v1/deployments', 'get'>;
/** The body of `POST /api/v1/deployments`. */
export type CreateDeploymentInput = RequestBody<'/api/v1/deployments', 'post'>;
/** The answer of `POST /api/v1/deployments`. */
export type CreatedDeployment = ResponseBody<'/api/v1/deployments', 'post'>;
/** The body of `PATCH /api/v1/deployments/{name}`. */
export type UpdateDeploymentInput = RequestBody<'/api/v1/deployments/{name}', 'patch'>;
/** The answer of `GET /api/v1/whoami`. */
export type WhoAmI = ResponseBody<'/api/v1/whoami', 'get'>;

/** Which deployments a token opens: all the owner may read, or a list of names. */
export type EndpointAccess = components['schemas']['EndpointAccess'];
/** The body of `POST /api/v1/tokens`. */
export type CreateTokenInput = RequestBody<'/api/v1/tokens', 'post'>;
/** A token as listed (never the secret), with its rotation state. */
export type TokenInfo = components['schemas']['ApiToken'];
/** The answer of `POST /api/v1/tokens`: `token` is shown this once. */
export type CreatedToken = ResponseBody<'/api/v1/tokens', 'post'>;
/** The answer of `GET /api/v1/tokens`: one page. */
export type TokenList = ResponseBody<'/api/v1/tokens', 'get'>;
/** Query parameters of `GET /api/v1/tokens` (`all`, `user` for admins; paging). */
export type TokenListQuery = QueryOf<'/api/v1/tokens', 'get'>;
/** The body of `POST /api/v1/tokens/{id}/roll`. */
export type RollTokenInput = RequestBody<'/api/v1/tokens/{id}/roll', 'post'>;
/** The answer of `POST /api/v1/tokens/{id}/roll`: the successor, its secret shown this once. */
export type RolledToken = ResponseBody<'/api/v1/tokens/{id}/roll', 'post'>;
