import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createAccessLog } from '../http/access-log.js';
import type { ClientAddress } from '../http/client-address.js';
import {
  answerHealth,
  type ClusterGate,
  HEALTH_PREFIX,
  LIVE_PATH,
  READY_PATH,
  type Readiness,
} from '../http/health.js';
import { requestIdOf } from '../http/request-id.js';
import { sendError } from '../http/respond.js';
import type { Throttle } from '../http/throttle.js';
import { deny } from '../kernel/denial.js';
import { ERROR_CODES } from '../kernel/errors.js';
import type { EventBus } from '../kernel/event-bus.js';
import type { TrafficRing } from '../kernel/traffic-ring.js';
import { answerJwks, JWKS_PATH } from '../keys/jwks.js';
import type { Logger } from '../log/logger.js';
import { describeRequest } from '../log/logger.js';
import { createAdmission } from './admission.js';
import { type Admitted, isRefusal, type Refusal, refusalOptions } from './admission-result.js';
import type { RefusalRecorder } from './audit-refusals.js';
import { type DataPlaneVerifiers, reauthenticate } from './authenticate.js';
import { createBrowserRoutes, sendPage } from './browser-routes.js';
import { decisionTarget } from './forward-auth/contracts.js';
import { createForwardAuth } from './forward-auth/endpoint.js';
import { upstreamRequestHeaders } from './headers.js';
import type { GatewayMetrics } from './metrics.js';
import type { UpstreamProxy } from './proxy.js';
import type { RateCounter } from './rate-counter.js';
import { OpenRelays } from './relays.js';
import type { RouteTable } from './route-table.js';
import { BROWSER_PREFIX, signInPage } from './sign-in-page.js';
import { unavailable } from './stages/availability.js';
import { forward, upstreamContext } from './stages/forward.js';
import {
  CLIENT_CLOSED_REQUEST,
  createObservation,
  finishRecord,
  type RequestObservers,
  type RequestRecord,
} from './stages/observe.js';
import type { UsageRecorder } from './usage-recorder.js';
import { proxyUpgrade, type UpgradeOptions, writeUpgradeError } from './websocket.js';

export interface GatewayContext {
  readonly log: Logger;
  readonly readiness: Readiness;
  readonly routes: RouteTable;
  readonly verifiers: DataPlaneVerifiers;
  readonly throttle: Throttle;
  /** Where rate limits are counted (X3). */
  readonly rates: RateCounter;
  /** The address throttles, logs and the audit key on (`trusted_proxies` decides). */
  readonly clientAddress: ClientAddress;
  /** Whether a peer is in `trusted_proxies`: only those may ask the forward-auth decision endpoints. */
  readonly trustedPeer: (address: string) => boolean;
  /** `forward_auth_cache_s`: how long a proxy may cache an allowing decision (0: never). */
  readonly decisionCacheS?: number;
  readonly proxy: UpstreamProxy;
  readonly upgrade: UpgradeOptions;
  /** `base_domain`: route `<deployment>.<base_domain>` by Host when set. */
  readonly baseDomain: string;
  /** The scheme callers use to reach this listener. */
  readonly proto: 'http' | 'https';
  /** Revoking changes: open WebSocket relays they revoke are closed (see `OpenRelays`). */
  readonly bus: EventBus;
  /** Audit of refusals (401/403/429): queues only, off the hot path. */
  readonly audit?: RefusalRecorder;
  /** Prometheus series per deployment (numbers kept per request, named at scrape time). */
  readonly metrics?: GatewayMetrics;
  /** Per-credential usage, counted in memory and written in batches. */
  readonly usage?: UsageRecorder;
  /** The last hour per deployment (the console's chart); see observe.ts. */
  readonly traffic?: TrafficRing;
  /** A replica of a PostgreSQL cluster: protected requests are refused while it is not in step. */
  readonly cluster?: ClusterGate;
}

/**
 * The data plane: each request through the admission pipeline (`createAdmission`: shape → route
 * → availability → credential → throttle → rate limit), then forwarded (`forward`) or refused, and observed
 * (`createObservation`). Bad input always gets a registry error; an unexpected throw is logged
 * and answered 500 without detail, so one broken request never takes the process down.
 */
export function createGateway(ctx: GatewayContext) {
  const log = ctx.log.child({ listener: 'inference' });
  const admission = createAdmission({ ...ctx, log });
  const observers: RequestObservers = {
    access: createAccessLog(ctx.log, { listener: 'inference' }),
    clientAddress: ctx.clientAddress,
    metrics: ctx.metrics,
    usage: ctx.usage,
    traffic: ctx.traffic,
  };
  const observation = createObservation(observers);
  const forwardAuth = createForwardAuth({
    admission,
    clientAddress: ctx.clientAddress,
    trustedPeer: ctx.trustedPeer,
    cacheS: ctx.decisionCacheS ?? 0,
    observation,
    audit: ctx.audit,
  });
  // Open WebSocket relays, so a revocation can cut them: the handshake was their only check.
  const relays = new OpenRelays(
    {
      jwtRevoked: (jti) => ctx.verifiers.platformJwt.isRevoked(jti),
      recheck(relay) {
        // The route as a new request would find it, then the credential as it would be decided.
        const route = ctx.routes.get(relay.deployment);
        if (route === undefined || unavailable(route) !== undefined) return deny('revoked', 'Not served as it was');
        return reauthenticate(relay.principal, route.snapshot, ctx.verifiers);
      },
    },
    log,
  );
  ctx.bus.subscribe((event) => relays.changed(event));

  const browserRoutes = createBrowserRoutes({
    routes: ctx.routes,
    verifiers: ctx.verifiers,
    baseDomain: ctx.baseDomain,
    proto: ctx.proto,
    checkToken: admission.checkToken,
    refused: (req, refusal, id) => ctx.audit?.(req, refusal, id),
  });

  /** Answers an admitted request (forwarded) or a refusal; the record is completed on close. */
  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    outcome: Admitted | Refusal,
  ): void {
    const id = record.requestId;
    if (isRefusal(outcome)) {
      ctx.audit?.(req, outcome, id);
      observation.refused(record, outcome);
      if (outcome.page) {
        const status = ERROR_CODES[outcome.code].status;
        record.bytesOut = sendPage(res, status, id, signInPage(outcome.page), outcome.headers);
      } else {
        record.bytesOut = sendError(res, outcome.code, id, refusalOptions(outcome));
      }
      return;
    }
    observation.admitted(record, outcome);
    forward(req, res, outcome, record, ctx);
  }

  /**
   * Completes a handshake's record once the caller's connection closed: a relay (101) ended
   * normally whoever closed it; any other answer was aborted unless it went out whole.
   */
  function finishUpgrade(record: RequestRecord, socket: Duplex, status: number): void {
    const aborted = status === 0 || (status !== SWITCHING_PROTOCOLS && !socket.writableFinished);
    finishRecord(observers, record.req, record, status === 0 ? CLIENT_CLOSED_REQUEST : status, aborted);
  }

  function fail(req: IncomingMessage, res: ServerResponse, id: string, err: unknown, record?: RequestRecord): void {
    log.error({ err, request_id: id, req: describeRequest(req) }, 'gateway error');
    if (record !== undefined) record.code = 'INTERNAL';
    const written = sendError(res, 'INTERNAL', id);
    if (record !== undefined) record.bytesOut += written;
  }

  return {
    /** Open WebSocket relays (read at scrape time: `modelgate_open_streams`). */
    openWebSockets: (): number => relays.size,
    /**
     * The `request` listener of the inference server. Synchronous for a known credential: no
     * promise, no early `setHeader` (the response goes out through `writeHead`'s fast path).
     */
    request(req: IncomingMessage, res: ServerResponse): void {
      const id = requestIdOf(req);
      let record: RequestRecord | undefined;
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
        const current = observation.start(req, res, id);
        record = current;
        if (url.startsWith(BROWSER_PREFIX)) {
          const decision = decisionTarget(url);
          if (decision !== undefined) {
            const decided = forwardAuth(req, res, id, decision);
            decided?.catch((err: unknown) => fail(req, res, id, err));
            return;
          }
          // Read now: a refused oversized form closes the connection before the response finishes.
          current.remote = ctx.clientAddress(req);
          browserRoutes(req, res, id).catch((err: unknown) => fail(req, res, id, err, current));
          return;
        }
        const outcome = admission.admit(req);
        if (outcome instanceof Promise) {
          outcome.then((a) => respond(req, res, current, a)).catch((err: unknown) => fail(req, res, id, err, current));
        } else {
          respond(req, res, current, outcome);
        }
      } catch (err) {
        fail(req, res, id, err, record);
      }
    },
    /**
     * The `upgrade` listener: WebSocket handshakes go through the same admission first. Its
     * access line, metrics and usage are written when the caller's connection closes: right after
     * a refusal, or when the relay ends (status 101, with the bytes relayed each way).
     */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const id = requestIdOf(req);
      const record = observation.record(req, id);
      // Read now: the address may be gone once the socket has closed.
      record.remote = ctx.clientAddress(req);
      let status = 0;
      // Changes that arrive during admission are applied to the relay once it is one.
      const missed = relays.watch();
      socket.once('close', () => {
        relays.unwatch(missed);
        finishUpgrade(record, socket, status);
      });
      socket.on('error', () => socket.destroy());
      const refuse = (refusal: Refusal): void => {
        status = ERROR_CODES[refusal.code].status;
        record.bytesOut = Math.max(0, writeUpgradeError(socket, refusal.code, id, refusal));
      };
      Promise.resolve()
        .then(() =>
          (req.url ?? '/').startsWith(BROWSER_PREFIX) ? { code: 'ROUTE_NOT_FOUND' as const } : admission.admit(req),
        )
        .then((outcome) => {
          if (isRefusal(outcome)) {
            ctx.audit?.(req, outcome, id);
            observation.refused(record, outcome);
            return refuse(outcome);
          }
          observation.admitted(record, outcome);
          const relay = { deployment: outcome.route.snapshot.name, principal: outcome.principal, requestId: id };
          relays.add(socket, relay, missed);
          proxyUpgrade(req, socket, head, {
            upstream: outcome.route.snapshot.upstream,
            path: outcome.rest,
            headers: upstreamRequestHeaders(
              req.headers,
              upstreamContext(req, outcome, record.principal, id, true, ctx.proto),
            ),
            requestId: id,
            options: ctx.upgrade,
            stats: record,
            answered: (answer) => {
              status = answer;
            },
          });
        })
        .catch((err: unknown) => {
          log.error({ err, request_id: id }, 'gateway upgrade error');
          record.code = 'INTERNAL';
          refuse({ code: 'INTERNAL' });
        });
    },
  };
}

/** The inference listener's handlers, as `createGateway` returns them. */
export type Gateway = ReturnType<typeof createGateway>;

/** The status of an accepted WebSocket handshake. */
const SWITCHING_PROTOCOLS = 101;
