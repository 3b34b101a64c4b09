import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RefusalRecorder } from '../audit/data-plane.js';
import { type Denial, denialCode, isDenial } from '../auth/denial.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';
import type { DeploymentSnapshot } from '../control/snapshot.js';
import { ERROR_CODES, type ErrorCode, errorBody } from '../errors/registry.js';
import type { EventBus } from '../events/bus.js';
import { TOPICS } from '../events/topics.js';
import type { Logger } from '../log/logger.js';
import { describeRequest } from '../log/logger.js';
import type { ClientAddress } from '../server/client-address.js';
import { answerHealth, type Readiness } from '../server/health.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../server/request-id.js';
import { sendError } from '../server/respond.js';
import {
  authenticateDeploymentRequest,
  type DataPlaneVerifiers,
  deploymentChallenges,
  requiresCredential,
} from './authenticate.js';
import { clientKey, type FailureThrottle } from './failure-throttle.js';
import { upstreamRequestHeaders } from './headers.js';
import { answerJwks } from './jwks.js';
import { hostDeployment, splitHostRoutedPath, splitInferencePath } from './path.js';
import type { UpstreamProxy } from './proxy.js';
import { requestShapeRefusal } from './request-shape.js';
import type { Route, RouteTable } from './route-table.js';
import { proxyUpgrade, type UpgradeOptions } from './websocket.js';

export interface GatewayContext {
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly routes: RouteTable;
  readonly verifiers: DataPlaneVerifiers;
  readonly throttle: FailureThrottle;
  /** The address throttles and logs key on (`trusted_proxies` decides). */
  readonly clientAddress: ClientAddress;
  readonly proxy: UpstreamProxy;
  readonly upgrade: UpgradeOptions;
  /** `base_domain`: route `<deployment>.<base_domain>` by Host when set. */
  readonly baseDomain: string;
  /** The scheme callers use to reach this listener. */
  readonly proto: 'http' | 'https';
  /** Revoking changes: open WebSockets of a changed deployment or a deleted key are closed. */
  readonly bus: EventBus;
  /** Audit of refusals (401/403/429): queues only, off the hot path. */
  readonly audit?: RefusalRecorder;
}

/** Where a request goes, once routing, the route table and authentication agreed. */
interface Admitted {
  readonly route: Route;
  readonly rest: string;
  readonly principal: Principal;
}

/** A refusal, decided once and rendered either on a response or on a raw upgrade socket. */
interface Refusal {
  readonly code: ErrorCode;
  readonly message?: string;
  readonly headers?: Record<string, string | string[]>;
  /** The deployment refused, once routing found it (for the audit log). */
  readonly deployment?: string;
}

/**
 * The data plane: routing → route table → throttle → authenticate → proxy. Bad input always gets
 * a registry error; an unexpected throw is logged and answered 500 without detail, so one broken
 * request never takes the process down.
 */
export function createGateway(ctx: GatewayContext) {
  const log = ctx.log.child({ listener: 'inference' });
  // Open WebSocket relays, so a revocation can cut them: the handshake was their only check.
  const sockets = new Set<{ socket: Duplex; deployment: string; principalId: string; principalKind: string }>();
  ctx.bus.subscribe(async (event) => {
    if (event.topic === TOPICS.jwtRevoked) {
      for (const open of sockets) {
        if (open.principalKind === 'platform_jwt' && (await ctx.verifiers.platformJwt.isRevoked(open.principalId))) {
          open.socket.destroy();
        }
      }
    }
    for (const open of sockets) {
      const hit =
        (event.topic === TOPICS.deploymentChanged && open.deployment === event.subject) ||
        (event.topic === TOPICS.apiKeyDeleted && open.principalId === event.subject);
      if (hit) open.socket.destroy();
    }
  });

  async function admit(req: IncomingMessage): Promise<Admitted | Refusal> {
    const shape = requestShapeRefusal(req.method, req.rawHeaders);
    if (shape) return shape;
    const routed = route(req);
    if (!routed.ok) return { code: routed.code };
    const entry = ctx.routes.get(routed.deployment);
    if (!entry) return { code: 'DEPLOYMENT_NOT_FOUND' };
    if (entry.stale) return { code: 'NOT_READY', message: 'The deployment’s settings cannot be read right now' };
    if (!entry.enabled) return { code: 'DEPLOYMENT_DISABLED' };
    // Node keeps only the first of two Authorization headers; a proxy behind us might keep the other.
    if ((req.headersDistinct.authorization?.length ?? 0) > 1) {
      return refusalFor({ denied: 'ambiguous', detail: 'More than one Authorization header was sent' }, entry);
    }
    if (!requiresCredential(entry.snapshot, ctx.verifiers)) {
      return { route: entry, rest: routed.rest, principal: ANONYMOUS };
    }
    const client = clientKey(ctx.clientAddress(req));
    const key = `${client}|${entry.snapshot.id}`;
    let principal: Principal | Denial;
    try {
      principal = await ctx.throttle.attempt(key, () =>
        authenticateDeploymentRequest(req, entry.snapshot, ctx.verifiers, client),
      );
    } catch (err) {
      // Only an unknown credential reaches the store; when it cannot answer, say so (503), not 500.
      log.warn({ err: String(err), deployment: entry.snapshot.name }, 'credential lookup failed');
      return { code: 'NOT_READY', message: 'The credential cannot be checked right now; retry later' };
    }
    if (isDenial(principal)) return refusalFor(principal, entry);
    return { route: entry, rest: routed.rest, principal };
  }

  function route(req: IncomingMessage) {
    const url = req.url ?? '/';
    if (ctx.baseDomain) {
      const name = hostDeployment(req.headers.host, ctx.baseDomain);
      if (name !== undefined) {
        const split = splitHostRoutedPath(url);
        return split.ok ? { ok: true as const, deployment: name, rest: split.rest } : split;
      }
    }
    return splitInferencePath(url);
  }

  function headersFor(req: IncomingMessage, admitted: Admitted, requestId: string, websocket: boolean) {
    const { snapshot } = admitted.route;
    return upstreamRequestHeaders(req.headers, {
      clientIp: req.socket.remoteAddress ?? '',
      proto: ctx.proto,
      host: req.headers.host ?? '',
      deployment: snapshot.name,
      deploymentId: snapshot.id,
      infrastructureId: snapshot.infrastructure_id,
      principal:
        admitted.principal.kind === 'anonymous' ? undefined : `${admitted.principal.kind}:${admitted.principal.id}`,
      requestId,
      // Only a credential scoped to this deployment may travel on: never a node key, which
      // opens every deployment.
      forwardCredential: snapshot.forward_credential && FORWARDABLE.has(admitted.principal.kind),
      upstreamHost: upstreamHostOf(snapshot),
      websocket,
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (await answerHealth(path, res, id, ctx.readiness)) return;
    if (answerJwks(path, res, ctx.verifiers.platformJwt)) return;
    const admitted = await admit(req);
    if ('code' in admitted) {
      ctx.audit?.(req, admitted, id);
      res.on('finish', () => accessLog(req, res, id, undefined, undefined));
      return sendError(res, admitted.code, id, refusalOptions(admitted));
    }
    res.on('finish', () => accessLog(req, res, id, admitted.route.snapshot.name, admitted.principal));
    await ctx.proxy.forward(req, res, {
      upstream: admitted.route.snapshot.upstream,
      path: admitted.rest,
      headers: headersFor(req, admitted, id, false),
      requestId: id,
    });
  }

  function accessLog(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    deployment?: string,
    principal?: Principal,
  ) {
    log.info(
      {
        request_id: id,
        method: req.method,
        deployment,
        status: res.statusCode,
        principal: principal ? `${principal.kind}:${principal.id}` : undefined,
        remote: ctx.clientAddress(req),
      },
      'request',
    );
  }

  return {
    /** The `request` listener of the inference server. */
    request(req: IncomingMessage, res: ServerResponse): void {
      const id = requestIdOf(req);
      res.setHeader(REQUEST_ID_HEADER, id);
      handle(req, res, id).catch((err: unknown) => {
        log.error({ err, request_id: id, req: describeRequest(req) }, 'gateway error');
        sendError(res, 'INTERNAL', id);
      });
    },
    /** The `upgrade` listener: WebSocket handshakes are authenticated like any request first. */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const id = requestIdOf(req);
      socket.on('error', () => socket.destroy());
      admit(req)
        .then((admitted) => {
          if ('code' in admitted) {
            ctx.audit?.(req, admitted, id);
            return rejectUpgrade(socket, admitted, id);
          }
          const open = {
            socket,
            deployment: admitted.route.snapshot.name,
            principalId: admitted.principal.id,
            principalKind: admitted.principal.kind,
          };
          sockets.add(open);
          socket.once('close', () => sockets.delete(open));
          proxyUpgrade(req, socket, head, {
            upstream: admitted.route.snapshot.upstream,
            path: admitted.rest,
            headers: headersFor(req, admitted, id, true),
            requestId: id,
            options: ctx.upgrade,
          });
        })
        .catch((err: unknown) => {
          log.error({ err, request_id: id }, 'gateway upgrade error');
          rejectUpgrade(socket, { code: 'INTERNAL' }, id);
        });
    },
  };
}

/** Principals whose credential is scoped to the deployment (a platform JWT: to it or its infrastructure). */
const FORWARDABLE: ReadonlySet<Principal['kind']> = new Set(['api_key', 'basic', 'platform_jwt', 'external_jwt']);

function refusalFor(denial: Denial, route: Route): Refusal {
  const code = denialCode(denial.denied);
  const refusal: Refusal = {
    code,
    deployment: route.snapshot.name,
    ...(denial.detail ? { message: denial.detail } : {}),
  };
  if (denial.retryAfter !== undefined) return { ...refusal, headers: { 'retry-after': String(denial.retryAfter) } };
  if (ERROR_CODES[code].status !== 401) return refusal;
  return { ...refusal, headers: { 'www-authenticate': deploymentChallenges(route.snapshot, denial.denied) } };
}

function refusalOptions(refusal: Refusal) {
  return { ...(refusal.message ? { message: refusal.message } : {}), headers: refusal.headers ?? {} };
}

const upstreamHosts = new WeakMap<DeploymentSnapshot, string>();

/** `host[:port]` of a revision's upstream, parsed once per revision rather than per request. */
function upstreamHostOf(snapshot: DeploymentSnapshot): string {
  let host = upstreamHosts.get(snapshot);
  if (host === undefined) {
    host = new URL(snapshot.upstream).host;
    upstreamHosts.set(snapshot, host);
  }
  return host;
}

/** Answers a refused WebSocket handshake on the raw socket and closes it. */
function rejectUpgrade(socket: Duplex, refusal: Refusal, id: string): void {
  const status = ERROR_CODES[refusal.code].status;
  const body = JSON.stringify(errorBody(refusal.code, id, refusal.message));
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    `${REQUEST_ID_HEADER}: ${id}`,
    'connection: close',
  ];
  for (const [k, v] of Object.entries(refusal.headers ?? {})) {
    for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
  }
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
