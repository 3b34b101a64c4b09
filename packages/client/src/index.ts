export type {
  ApiMethod,
  ApiPath,
  CallOptions,
  CreateDeploymentInput,
  CreatedDeployment,
  CreatedToken,
  CreateTokenInput,
  Deployment,
  DeploymentList,
  DeploymentListQuery,
  EndpointAccess,
  PathParamsOf,
  QueryOf,
  RequestBody,
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
export { Client, type ClientOptions } from './client.js';
export { DeploymentClient, type StreamOptions } from './deployment.js';
export { type ClientErrorCode, type ErrorCode, isErrorCode, ModelgateApiError } from './errors.js';
export { ERROR_STATUS } from './generated/error-codes.js';
export type { components, paths } from './generated/openapi.js';
export { type Page, PagedList, paginate } from './paging.js';
export { DEFAULT_MAX_EVENT_SIZE, readEventStream, type SseEvent, SseLimitError, SseParser } from './sse.js';
export { type FetchLike, type SendInit, Transport } from './transport.js';
