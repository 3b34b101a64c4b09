import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RefusalRecorder } from '../audit/data-plane.js';
import { authorizationHeaderCount } from '../auth/authorization-header.js';
import { type Denial, denialCode, isDenial } from '../auth/denial.js';
import { PendingCheck } from '../auth/pending-check.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';
import type { DeploymentSnapshot } from '../control/snapshot.js';
import { ERROR_CODES, type ErrorCode, errorBody } from '../errors/registry.js';
import type { EventBus } from '../events/bus.js';
import { TOPICS } from '../events/topics.js';
import { createAccessLog } from '../log/access-log.js';
import type { Logger } from '../log/logger.js';
import { describeRequest } from '../log/logger.js';
import type { ClientAddress } from '../server/client-address.js';
import { answerHealth, HEALTH_PREFIX, LIVE_PATH, READY_PATH, type Readiness } from '../server/health.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../server/request-id.js';
import { sendError } from '../server/respond.js';
import {
  authenticateDeploymentRequest,
  type DataPlaneVerifiers,
  deploymentChallenges,
  requiresCredential,
} from './authenticate.js';
import { attemptOutcome, clientKey, throttledFor } from './failure-throttle.js';
import { type UpstreamHeaderContext, upstreamRequestHeaderList, upstreamRequestHeaders } from './headers.js';
import { answerJwks, JWKS_PATH } from './jwks.js';
import { hostDeployment, splitHostRoutedPath, splitInferencePath } from './path.js';
import type { UpstreamProxy } from './proxy.js';
import { requestShapeRefusal } from './request-shape.js';
import type { Route, RouteTable } from './route-table.js';
import type { Throttle } from './throttle.js';
import { proxyUpgrade, type UpgradeOptions } from './websocket.js';

export interface GatewayContext {
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly routes: RouteTable;
  readonly verifiers: DataPlaneVerifiers;
  readonly throttle: Throttle;
  /** The address throttles, logs and the audit key on (`trusted_proxies` decides). */
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

  /**
   * Request shape, routing, the route table and authentication, decided synchronously whenever memory can
   * decide (a public deployment, a cached credential, a node key, a malformed one): only a
   * credential that needs the store or scrypt makes it a promise.
   */
  function admit(req: IncomingMessage): Admitted | Refusal | Promise<Admitted | Refusal> {
    const shape = requestShapeRefusal(req.method, req.rawHeaders);
    if (shape) return shape;
    const routed = route(req);
    if (!routed.ok) return { code: routed.code };
    const entry = ctx.routes.get(routed.deployment);
    if (!entry) return { code: 'DEPLOYMENT_NOT_FOUND' };
    if (entry.stale) return { code: 'NOT_READY', message: 'The deployment’s settings cannot be read right now' };
    if (!entry.enabled) return { code: 'DEPLOYMENT_DISABLED' };
    // Node keeps only the first of two Authorization headers; a proxy behind us might keep the other.
    if (authorizationHeaderCount(req.rawHeaders) > 1) {
      return refusalFor({ denied: 'ambiguous', detail: 'More than one Authorization header was sent' }, entry);
    }
    if (!requiresCredential(entry.snapshot, ctx.verifiers)) {
      return { route: entry, rest: routed.rest, principal: ANONYMOUS };
    }
    const verification = authenticateDeploymentRequest(req, entry.snapshot, ctx.verifiers);
    // Computed once per request (and without allocation when no proxy is trusted).
    const client = clientKey(ctx.clientAddress(req));
    const key = `${client}|${entry.snapshot.id}`;
    if (verification instanceof PendingCheck) return admitPending(verification, client, key, entry, routed.rest);
    if (isDenial(verification)) return refuseCounted(verification, key, entry);
    // A cached credential or a node key: no attempt to reserve, but a locked-out address stays out.
    const locked = ctx.throttle.lockedFor(key);
    if (locked > 0) return lockedOut(locked, entry);
    return { route: entry, rest: routed.rest, principal: verification };
  }

  /**
   * A cache miss: reserve an attempt first, so parallel guesses cannot all reach the store or
   * scrypt; `client` (the address key) is the check's share of a node-wide cap.
   */
  async function admitPending(
    check: PendingCheck,
    client: string,
    key: string,
    entry: Route,
    rest: string,
  ): Promise<Admitted | Refusal> {
    const wait = await ctx.throttle.enter(key);
    if (wait > 0) return lockedOut(wait, entry);
    let principal: Principal | Denial;
    try {
      principal = await check.run(client);
    } catch (err) {
      ctx.throttle.release(key);
      // Only an unknown credential reaches the store; when it cannot answer, say so (503), not 500.
      log.warn({ err: String(err), deployment: entry.snapshot.name }, 'credential lookup failed');
      return { code: 'NOT_READY', message: 'The credential cannot be checked right now; retry later' };
    }
    if (isDenial(principal)) {
      await settle(key, principal);
      return refusalFor(principal, entry);
    }
    ctx.throttle.release(key);
    return { route: entry, rest, principal };
  }

  /** A denial decided from memory: counted like any attempt (a locked-out caller gets 429 first). */
  async function refuseCounted(denial: Denial, key: string, entry: Route): Promise<Refusal> {
    const wait = await ctx.throttle.enter(key);
    if (wait > 0) return lockedOut(wait, entry);
    await settle(key, denial);
    return refusalFor(denial, entry);
  }

  /**
   * Counts a denial whose attempt was reserved, by the same rule as `FailureThrottle.attempt`
   * (`attemptOutcome`). Awaited, so a lock the failure causes is in force (in every worker)
   * before the answer.
   */
  async function settle(key: string, denial: Denial): Promise<void> {
    if (attemptOutcome(denial) === 'fail') await ctx.throttle.fail(key);
    else ctx.throttle.release(key);
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

  /** What the upstream is told about this request (see `upstreamRequestHeaders`). */
  function headersFor(
    req: IncomingMessage,
    admitted: Admitted,
    principal: string | undefined,
    requestId: string,
    websocket: boolean,
  ): UpstreamHeaderContext {
    const { snapshot } = admitted.route;
    return {
      clientIp: req.socket.remoteAddress ?? '',
      proto: ctx.proto,
      host: req.headers.host ?? '',
      deployment: snapshot.name,
      deploymentId: snapshot.id,
      infrastructureId: snapshot.infrastructure_id,
      principal,
      requestId,
      // Only a credential scoped to this deployment may travel on: never a node key, which
      // opens every deployment.
      forwardCredential: snapshot.forward_credential && FORWARDABLE.has(admitted.principal.kind),
      upstreamHost: upstreamHostOf(snapshot),
      websocket,
    };
  }

  const access = createAccessLog(ctx.log, { listener: 'inference' });

  /**
   * `finish` of a data-plane response: its access line. One shared listener (`this` is the
   * response) reading what `respond` left on the response, rather than a closure per request.
   */
  function logAccess(this: AccessResponse): void {
    const line = this[ACCESS];
    if (line === undefined) return;
    access({
      requestId: line.requestId,
      method: line.req.method,
      status: this.statusCode,
      deployment: line.deployment,
      principal: line.principal,
      remote: ctx.clientAddress(line.req),
    });
  }

  /** Answers an admitted request (proxied) or a refusal; the access line is written on finish. */
  function respond(req: IncomingMessage, res: ServerResponse, id: string, admitted: Admitted | Refusal): void {
    if ('code' in admitted) {
      ctx.audit?.(req, admitted, id);
      (res as AccessResponse)[ACCESS] = { req, requestId: id, deployment: undefined, principal: undefined };
      res.on('finish', logAccess);
      sendError(res, admitted.code, id, refusalOptions(admitted));
      return;
    }
    const principal = principalLabel(admitted.principal);
    const deployment = admitted.route.snapshot.name;
    (res as AccessResponse)[ACCESS] = { req, requestId: id, deployment, principal };
    res.on('finish', logAccess);
    ctx.proxy.send(req, res, {
      upstream: admitted.route.snapshot.upstream,
      path: admitted.rest,
      headers: upstreamRequestHeaderList(req.headers, headersFor(req, admitted, principal, id, false)),
      requestId: id,
    });
  }

  function fail(req: IncomingMessage, res: ServerResponse, id: string, err: unknown): void {
    log.error({ err, request_id: id, req: describeRequest(req) }, 'gateway error');
    sendError(res, 'INTERNAL', id);
  }

  return {
    /**
     * The `request` listener of the inference server. Synchronous for a known credential: no
     * promise, no early `setHeader` (the response goes out through `writeHead`'s fast path).
     */
    request(req: IncomingMessage, res: ServerResponse): void {
      const id = requestIdOf(req);
      try {
        const url = req.url ?? '/';
        if (url.startsWith(HEALTH_PREFIX)) {
          const path = url.split('?')[0] ?? url;
          if (path === LIVE_PATH || path === READY_PATH) {
            answerHealth(path, res, id, ctx.readiness).catch((err: unknown) => fail(req, res, id, err));
            return;
          }
        }
        if (url.startsWith(JWKS_PATH) && answerJwks(url.split('?')[0] ?? url, res, ctx.verifiers.platformJwt)) return;
        const admitted = admit(req);
        if (admitted instanceof Promise) {
          admitted.then((a) => respond(req, res, id, a)).catch((err: unknown) => fail(req, res, id, err));
        } else {
          respond(req, res, id, admitted);
        }
      } catch (err) {
        fail(req, res, id, err);
      }
    },
    /** The `upgrade` listener: WebSocket handshakes are authenticated like any request first. */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const id = requestIdOf(req);
      socket.on('error', () => socket.destroy());
      Promise.resolve()
        .then(() => admit(req))
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
            headers: upstreamRequestHeaders(
              req.headers,
              headersFor(req, admitted, principalLabel(admitted.principal), id, true),
            ),
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

/** What the access line of a response says, left on the response for the shared `finish` listener. */
const ACCESS = Symbol('modelgate.access');
type AccessResponse = ServerResponse & {
  [ACCESS]?: {
    readonly req: IncomingMessage;
    readonly requestId: string;
    readonly deployment: string | undefined;
    readonly principal: string | undefined;
  };
};

/** `kind:id` of a principal, for the upstream header and the access line; none for anonymous callers. */
function principalLabel(principal: Principal): string | undefined {
  return principal.kind === 'anonymous' ? undefined : `${principal.kind}:${principal.id}`;
}

/** The failure throttle said wait: the same refusal `FailureThrottle.attempt` gives. */
function lockedOut(seconds: number, route: Route): Refusal {
  return refusalFor(throttledFor(seconds), route);
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
