import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeploymentSnapshot } from '../../kernel/deployment-snapshot.js';
import type { Principal } from '../../kernel/principal.js';
import type { Admitted } from '../admission-result.js';
import { type UpstreamHeaderContext, upstreamRequestHeaderList } from '../headers.js';
import { parseUpstream, type UpstreamProxy } from '../proxy.js';
import type { RequestRecord } from './observe.js';

/**
 * The forward stage: an admitted request sent to its deployment's upstream, with the headers
 * the upstream is told (`upstreamRequestHeaders`); the proxy fills the record's exchange stats.
 *
 * @example
 * ```ts
 * forward(req, res, admitted, record, { proxy, proto: 'http' });
 * ```
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  admitted: Admitted,
  record: RequestRecord,
  stage: { readonly proxy: UpstreamProxy; readonly proto: 'http' | 'https' },
): void {
  const id = record.requestId;
  stage.proxy.send(req, res, {
    upstream: admitted.route.snapshot.upstream,
    path: admitted.rest,
    headers: upstreamRequestHeaderList(
      req.headers,
      upstreamContext(req, admitted, record.principal, id, false, stage.proto),
    ),
    requestId: id,
    stats: record,
  });
}

/** What the upstream is told about an admitted request or handshake (see `upstreamRequestHeaders`). */
export function upstreamContext(
  req: IncomingMessage,
  admitted: Admitted,
  principal: string | undefined,
  requestId: string,
  websocket: boolean,
  proto: 'http' | 'https',
): UpstreamHeaderContext {
  const { snapshot } = admitted.route;
  return {
    clientIp: req.socket.remoteAddress ?? '',
    proto,
    host: req.headers.host ?? '',
    deployment: snapshot.name,
    deploymentId: snapshot.id,
    infrastructureId: snapshot.infrastructure_id,
    principal,
    requestId,
    forwardCredential: forwardsCredential(admitted),
    upstreamHost: upstreamOf(snapshot).host,
    websocket,
    cookieToken: admitted.cookieToken,
  };
}

/**
 * Whether the caller's credential goes on to the upstream: when the deployment says so, and only
 * a credential scoped to it (never a node key, which opens every deployment).
 */
export function forwardsCredential(admitted: Admitted): boolean {
  return admitted.route.snapshot.forward_credential && FORWARDABLE.has(admitted.principal.kind);
}

/** Principals whose credential is scoped to the deployment (a platform JWT: to it or its infrastructure). */
const FORWARDABLE: ReadonlySet<Principal['kind']> = new Set(['api_key', 'basic', 'platform_jwt', 'external_jwt']);

/** A revision's upstream, split: undici's origin, the base path, and `host[:port]`. */
export interface UpstreamParts {
  readonly origin: string;
  readonly basePath: string;
  readonly host: string;
}

const upstreams = new WeakMap<DeploymentSnapshot, UpstreamParts>();

/**
 * A revision's upstream, parsed once per revision rather than per request (the gateway's `Host`
 * and the forward-auth answers' target).
 *
 * @example
 * ```ts
 * upstreamOf(snapshot); // { origin: 'http://10.0.0.5:9000', basePath: '/v1', host: '10.0.0.5:9000' }
 * ```
 */
export function upstreamOf(snapshot: DeploymentSnapshot): UpstreamParts {
  let parts = upstreams.get(snapshot);
  if (parts === undefined) {
    const { origin, basePath } = parseUpstream(snapshot.upstream);
    parts = { origin, basePath, host: new URL(snapshot.upstream).host };
    upstreams.set(snapshot, parts);
  }
  return parts;
}
