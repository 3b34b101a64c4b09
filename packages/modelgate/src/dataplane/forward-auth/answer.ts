import type { ServerResponse } from 'node:http';
import type { RequestHead } from '../../http/request-head.js';
import { REQUEST_ID_HEADER } from '../../http/request-id.js';
import { sendError } from '../../http/respond.js';
import { ERROR_CODES, errorBody } from '../../kernel/errors.js';
import { type Admitted, type Refusal, refusalOptions } from '../admission-result.js';
import { withoutGatewayCookies } from '../browser-cookie.js';
import { DEPLOYMENT_HEADER, DEPLOYMENT_ID_HEADER, INFRASTRUCTURE_ID_HEADER, PRINCIPAL_HEADER } from '../headers.js';
import { joinUpstreamPath } from '../proxy.js';
import { forwardsCredential, upstreamOf } from '../stages/forward.js';
import type { ForwardAuthContract } from './contracts.js';

/** Where the proxy sends an allowed request: the full URL (nginx `proxy_pass`). */
export const TARGET_HEADER = 'x-modelgate-target';
/** The upstream's `host:port` (Caddy's dynamic upstream; the `Host` nginx sends). */
export const UPSTREAM_HEADER = 'x-modelgate-upstream';
/** The upstream's origin (`http://10.0.0.5:9000`): what nginx maps to a keep-alive upstream group. */
export const ORIGIN_HEADER = 'x-modelgate-origin';
/** The path and query on the upstream (its base path and the rest after `/<deployment>`). */
export const URI_HEADER = 'x-modelgate-uri';
/** The `Authorization` the upstream gets: the caller's, when the deployment forwards it; else empty. */
export const AUTHORIZATION_HEADER = 'x-modelgate-authorization';
/** The `Cookie` the upstream gets: the caller's without modelgate's own cookies; else empty. */
export const COOKIE_HEADER = 'x-modelgate-cookie';
/** nginx only: the status the client gets, as `auth_request` itself passes only 401 and 403. */
export const STATUS_HEADER = 'x-modelgate-status';
/** nginx only: the error body the client gets (ASCII JSON). */
export const ERROR_HEADER = 'x-modelgate-error';
/** nginx only: the refusal's `Retry-After` and `WWW-Authenticate`. */
export const RETRY_AFTER_HEADER = 'x-modelgate-retry-after';
export const CHALLENGE_HEADER = 'x-modelgate-www-authenticate';
/** nginx only: a rate limit refusal's `RateLimit-Policy` and `RateLimit` (X3). */
export const RATELIMIT_POLICY_HEADER = 'x-modelgate-ratelimit-policy';
export const RATELIMIT_HEADER = 'x-modelgate-ratelimit';

/**
 * An allowed request's answer: 200, no body, and what the proxy forwards with it. Every header
 * is always present (empty when it does not apply): Caddy 2.6's `copy_headers` writes its
 * placeholder's literal text for a header the answer lacks.
 *
 * @example
 * ```ts
 * allow(res, head, admitted, 'api_key:k1', 'req_1'); // 200 with x-modelgate-target: http://10.0.0.5:9000/predict
 * ```
 */
export function allow(
  res: ServerResponse,
  head: RequestHead,
  admitted: Admitted,
  principal: string | undefined,
  requestId: string,
  /** Seconds the proxy may keep this answer (`forward_auth_cache_s`); 0: it may not. */
  cacheS = 0,
): void {
  const { snapshot } = admitted.route;
  const upstream = upstreamOf(snapshot);
  const uri = joinUpstreamPath(upstream.basePath, admitted.rest);
  const authorization = forwardsCredential(admitted)
    ? admitted.cookieToken !== undefined
      ? `Bearer ${admitted.cookieToken}`
      : (head.headers.authorization ?? '')
    : '';
  const cookie = head.headers.cookie === undefined ? undefined : withoutGatewayCookies(head.headers.cookie);
  res.writeHead(200, {
    [REQUEST_ID_HEADER]: requestId,
    // Only an allowing answer, and only when the operator opted in: refusals are never cached,
    // so failures are always counted by the node.
    'cache-control': cacheS > 0 ? `max-age=${cacheS}` : 'no-store',
    'content-length': 0,
    [DEPLOYMENT_HEADER]: snapshot.name,
    [DEPLOYMENT_ID_HEADER]: snapshot.id,
    [INFRASTRUCTURE_ID_HEADER]: snapshot.infrastructure_id,
    [PRINCIPAL_HEADER]: principal ?? '',
    [TARGET_HEADER]: upstream.origin + uri,
    [ORIGIN_HEADER]: upstream.origin,
    [URI_HEADER]: uri,
    [UPSTREAM_HEADER]: upstream.host,
    [AUTHORIZATION_HEADER]: authorization,
    [COOKIE_HEADER]: cookie ?? '',
  });
  res.end();
}

/**
 * A refusal's answer. Caddy, Traefik and Envoy pass the decision's own status, headers and body
 * to the client: it is the gateway's refusal as it is. nginx `auth_request` passes only 401 and
 * 403 (any other status is a 500), so nginx gets 401 or 403 and the real status, body,
 * `Retry-After`, challenges and rate limit fields in headers its generated configuration renders.
 *
 * @returns the bytes of the body the client gets.
 */
export function refuse(
  res: ServerResponse,
  contract: ForwardAuthContract,
  refusal: Refusal,
  requestId: string,
): number {
  // A sign-in page is the gateway's own browser flow; through a proxy the refusal is JSON.
  if (contract !== 'nginx') return sendError(res, refusal.code, requestId, refusalOptions(refusal));
  const status = ERROR_CODES[refusal.code].status;
  const body = asciiJson(errorBody(refusal.code, requestId, refusal.message));
  const challenges = refusal.headers?.['www-authenticate'];
  const retryAfter = refusal.headers?.['retry-after'];
  const policy = refusal.headers?.['ratelimit-policy'];
  const limit = refusal.headers?.ratelimit;
  res.writeHead(status === 401 ? 401 : 403, {
    [REQUEST_ID_HEADER]: requestId,
    'cache-control': 'no-store',
    'content-length': 0,
    [STATUS_HEADER]: String(status),
    [ERROR_HEADER]: body,
    ...(retryAfter === undefined ? {} : { [RETRY_AFTER_HEADER]: String(retryAfter) }),
    ...(policy === undefined ? {} : { [RATELIMIT_POLICY_HEADER]: String(policy) }),
    ...(limit === undefined ? {} : { [RATELIMIT_HEADER]: String(limit) }),
    ...(challenges === undefined
      ? {}
      : { [CHALLENGE_HEADER]: Array.isArray(challenges) ? challenges.join(', ') : challenges }),
  });
  res.end();
  return Buffer.byteLength(body);
}

/** JSON with every non-ASCII character escaped, so it can travel in a header. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
