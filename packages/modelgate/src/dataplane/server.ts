import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { createAccessLog } from '../http/access-log.js';
import type { ClientAddress } from '../http/client-address.js';
import { attemptOutcome, clientKey, throttledFor } from '../http/failure-throttle.js';
import { answerHealth, HEALTH_PREFIX, LIVE_PATH, READY_PATH, type Readiness } from '../http/health.js';
import { requestIdOf } from '../http/request-id.js';
import { sendError } from '../http/respond.js';
import { authorizationHeaderCount, isBearerToken } from '../kernel/authorization-header.js';
import { type Denial, type DenialReason, denialCode, deny, isDenial } from '../kernel/denial.js';
import type { DeploymentSnapshot } from '../kernel/deployment-snapshot.js';
import { ERROR_CODES, type ErrorCode } from '../kernel/errors.js';
import type { EventBus } from '../kernel/event-bus.js';
import { PendingCheck } from '../kernel/pending-check.js';
import { ANONYMOUS, type Principal } from '../kernel/principal.js';
import { answerJwks, JWKS_PATH } from '../keys/jwks.js';
import type { NodeKeyVerifier } from '../keys/node-keys.js';
import type { Logger } from '../log/logger.js';
import { describeRequest } from '../log/logger.js';
import type { RefusalRecorder } from './audit-refusals.js';
import {
  authenticateBearer,
  authenticateDeploymentRequest,
  type DataPlaneVerifiers,
  deploymentChallenges,
  reauthenticate,
  requiresCredential,
} from './authenticate.js';
import { type BrowserTarget, cookieScope, pageError, wantsSignInPage } from './browser-access.js';
import { clearCredentialCookie, readCredentialCookie } from './browser-cookie.js';
import { createBrowserRoutes, sendPage } from './browser-routes.js';
import { type UpstreamHeaderContext, upstreamRequestHeaderList, upstreamRequestHeaders } from './headers.js';
import type { GatewayMetrics } from './metrics.js';
import { CLIENT_CLOSED_REQUEST, finishRecord, finishRequest, type RequestObservers, RequestRecord } from './observe.js';
import { hostDeployment, splitHostRoutedPath, splitInferencePath } from './path.js';
import type { UpstreamProxy } from './proxy.js';
import { OpenRelays } from './relays.js';
import { requestShapeRefusal } from './request-shape.js';
import type { Route, RouteTable } from './route-table.js';
import { BROWSER_PREFIX, type SignInPageOptions, signInPage } from './sign-in-page.js';
import type { Throttle } from './throttle.js';
import type { UsageRecorder } from './usage-recorder.js';
import { proxyUpgrade, type UpgradeOptions, writeUpgradeError } from './websocket.js';

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
  /** Revoking changes: open WebSocket relays they revoke are closed (see `OpenRelays`). */
  readonly bus: EventBus;
  /** Audit of refusals (401/403/429): queues only, off the hot path. */
  readonly audit?: RefusalRecorder;
  /** Prometheus series per deployment (numbers kept per request, named at scrape time). */
  readonly metrics?: GatewayMetrics;
  /** Per-credential usage, counted in memory and written in batches. */
  readonly usage?: UsageRecorder;
  /** A replica of a PostgreSQL cluster: protected requests are refused while it is not in step. */
  readonly cluster?: { ready(): boolean; reason(): string | undefined };
}

/** Where a request goes, once routing, the route table and authentication agreed. */
interface Admitted {
  readonly route: Route;
  readonly rest: string;
  readonly principal: Principal;
  /** The token, when it came from the browser-access cookie rather than `Authorization`. */
  readonly cookieToken?: string;
}

/** A refusal, decided once and rendered either on a response or on a raw upgrade socket. */
interface Refusal {
  readonly code: ErrorCode;
  readonly message?: string;
  readonly headers?: Record<string, string | string[]>;
  /** The deployment refused, once routing found it (for the audit log, the access line, metrics). */
  readonly deployment?: string;
  /** Why authentication or authorization refused it. */
  readonly reason?: DenialReason;
  /** A browser's page load: answer with the sign-in page rather than JSON (B7). */
  readonly page?: SignInPageOptions;
}

type Verifying = DataPlaneVerifiers & { readonly nodeKeys: NodeKeyVerifier };

/**
 * The data plane: routing → route table → throttle → authenticate → proxy. Bad input always gets
 * a registry error; an unexpected throw is logged and answered 500 without detail, so one broken
 * request never takes the process down.
 */
export function createGateway(ctx: GatewayContext) {
  const log = ctx.log.child({ listener: 'inference' });
  // Open WebSocket relays, so a revocation can cut them: the handshake was their only check.
  const relays = new OpenRelays(
    {
      jwtRevoked: (jti) => ctx.verifiers.platformJwt.isRevoked(jti),
      recheck(relay) {
        // The route as a new request would find it, then the credential as it would be decided.
        const entry = ctx.routes.get(relay.deployment);
        if (entry === undefined || unavailable(entry) !== undefined) return deny('revoked', 'Not served as it was');
        return reauthenticate(relay.principal, entry.snapshot, ctx.verifiers);
      },
    },
    log,
  );
  ctx.bus.subscribe((event) => relays.changed(event));

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
    const closed = unavailable(entry);
    if (closed) return closed;
    // Node keeps only the first of two Authorization headers; a proxy behind us might keep the other.
    const authorizations = authorizationHeaderCount(req.rawHeaders);
    if (authorizations > 1) {
      return refusalFor({ denied: 'ambiguous', detail: 'More than one Authorization header was sent' }, entry);
    }
    if (!requiresCredential(entry.snapshot, ctx.verifiers)) {
      return { route: entry, rest: routed.rest, principal: ANONYMOUS };
    }
    // Issue 20: a replica that may have missed a revocation admits no credential (fail closed).
    if (ctx.cluster?.ready() === false)
      return { code: 'NOT_READY', message: ctx.cluster.reason(), deployment: entry.snapshot.name };
    // Cookies are looked at only here: no Authorization header, on a protected deployment.
    if (authorizations === 0) return admitBrowser(req, entry, routed, ctx.verifiers);
    const verification = authenticateDeploymentRequest(req, entry.snapshot, ctx.verifiers);
    return checked(verification, req, entry, routed.rest);
  }

  /** The failure throttle around one verification, keyed on the client address and the deployment. */
  function checked(
    verification: ReturnType<typeof authenticateBearer>,
    req: IncomingMessage,
    entry: Route,
    rest: string,
  ): Admitted | Refusal | Promise<Admitted | Refusal> {
    // Computed once per request (and without allocation when no proxy is trusted).
    const client = clientKey(ctx.clientAddress(req));
    const key = `${client}|${entry.snapshot.id}`;
    if (verification instanceof PendingCheck) return admitPending(verification, client, key, entry, rest);
    if (isDenial(verification)) return refuseCounted(verification, key, entry);
    // A cached credential or a node key: no attempt to reserve, but a locked-out address stays out.
    const locked = ctx.throttle.lockedFor(key);
    if (locked > 0) return lockedOut(locked, entry);
    return { route: entry, rest, principal: verification };
  }

  /**
   * A protected deployment called without `Authorization` (B7): the browser-access cookie's token
   * is verified like a Bearer header. A refused cookie is cleared, and a page load gets the
   * sign-in page instead of JSON.
   */
  function admitBrowser(
    req: IncomingMessage,
    entry: Route,
    routed: Routed,
    verifiers: Verifying,
  ): Admitted | Refusal | Promise<Admitted | Refusal> {
    const cookie = readCredentialCookie(req.headers.cookie);
    const verification =
      cookie === undefined
        ? deny('missing')
        : isDenial(cookie)
          ? cookie
          : authenticateBearer(cookie, entry.snapshot, verifiers);
    const outcome = checked(verification, req, entry, routed.rest);
    const target: BrowserTarget = { deployment: routed.deployment, hostRouted: routed.hostRouted };
    const decide = (result: Admitted | Refusal): Admitted | Refusal => {
      if (!('code' in result)) return typeof cookie === 'string' ? { ...result, cookieToken: cookie } : result;
      return browserRefusal(req, result, entry, target, cookie !== undefined);
    };
    return outcome instanceof Promise ? outcome.then(decide) : decide(outcome);
  }

  /** A refusal of a cookie-less or cookie-carrying request, as a browser should get it. */
  function browserRefusal(
    req: IncomingMessage,
    refusal: Refusal,
    entry: Route,
    target: BrowserTarget,
    sentCookie: boolean,
  ): Refusal {
    const status = ERROR_CODES[refusal.code].status;
    let answer = refusal;
    // A refused cookie is forgotten, so the browser stops presenting it; a throttled one may be fine.
    if (sentCookie && (status === 401 || status === 403)) {
      const cookie = clearCredentialCookie(cookieScope(target, ctx.proto === 'https'));
      answer = { ...answer, headers: { ...answer.headers, 'set-cookie': cookie } };
    }
    if (
      (status === 401 || status === 403 || status === 429) &&
      wantsSignInPage(req.method, req.headers.accept, entry.snapshot)
    ) {
      const error = pageError(refusal, sentCookie);
      answer = { ...answer, page: { ...target, returnTo: req.url ?? '/', error } };
    }
    return answer;
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
      return {
        code: 'NOT_READY',
        message: 'The credential cannot be checked right now; retry later',
        deployment: entry.snapshot.name,
      };
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

  function route(req: IncomingMessage): Routed | { ok: false; code: ErrorCode } {
    const url = req.url ?? '/';
    if (ctx.baseDomain) {
      const name = hostDeployment(req.headers.host, ctx.baseDomain);
      if (name !== undefined) {
        const split = splitHostRoutedPath(url);
        return split.ok ? { ok: true, deployment: name, rest: split.rest, hostRouted: true } : split;
      }
    }
    const split = splitInferencePath(url);
    // Built field by field: a spread copy here was allocated so that every request's routing
    // result survived into the old generation (measured with the sampling heap profiler).
    return split.ok ? { ok: true, deployment: split.deployment, rest: split.rest, hostRouted: false } : split;
  }

  const browserRoutes = createBrowserRoutes({
    routes: ctx.routes,
    verifiers: ctx.verifiers,
    baseDomain: ctx.baseDomain,
    proto: ctx.proto,
    async checkToken(req, entry, token) {
      if (!requiresCredential(entry.snapshot, ctx.verifiers)) return undefined;
      const verification = isBearerToken(token)
        ? authenticateBearer(token, entry.snapshot, ctx.verifiers)
        : deny('malformed', 'The token has characters a token cannot have');
      const result = await checked(verification, req, entry, '/');
      return 'code' in result ? result : undefined;
    },
    refused: (req, refusal, id) => ctx.audit?.(req, refusal, id),
  });

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
      cookieToken: admitted.cookieToken,
    };
  }

  const observers: RequestObservers = {
    access: createAccessLog(ctx.log, { listener: 'inference' }),
    clientAddress: ctx.clientAddress,
    metrics: ctx.metrics,
    usage: ctx.usage,
  };
  const unknownSeries = ctx.metrics?.unknown;

  /**
   * `close` of a data-plane response: its access line, metrics and usage. One shared listener
   * (`this` is the response) reading the record left on the response, not a closure per request.
   */
  function onRecordedClose(this: RecordedResponse): void {
    const record = this[RECORD];
    if (record !== undefined) finishRequest(observers, record.req, this, record);
  }

  /** Starts the record of a request; its access line, metrics and usage are written on close. */
  function observe(req: IncomingMessage, res: ServerResponse, id: string): RequestRecord {
    const record = new RequestRecord(id, req, unknownSeries);
    (res as RecordedResponse)[RECORD] = record;
    res.on('close', onRecordedClose);
    return record;
  }

  /** Names the deployment a request reached (known to the route table: a bounded label). */
  function routed(record: RequestRecord, deployment: string | undefined): void {
    if (deployment === undefined) return;
    record.deployment = deployment;
    if (ctx.metrics) record.series = ctx.metrics.series(deployment);
  }

  /** Notes a refusal on the record: the deployment (once routing found it), the code and the reason. */
  function refused(record: RequestRecord, refusal: Refusal): void {
    routed(record, refusal.deployment);
    record.code = refusal.code;
    record.reason = refusal.reason;
  }

  /** Notes an admission on the record. @returns the principal's label (`kind:id`), none when anonymous. */
  function admittedTo(record: RequestRecord, admitted: Admitted): string | undefined {
    const principal = principalLabel(admitted.principal);
    routed(record, admitted.route.snapshot.name);
    record.admittedAs = admitted.principal;
    record.principal = principal;
    return principal;
  }

  /** Answers an admitted request (proxied) or a refusal; the record is completed on close. */
  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    admitted: Admitted | Refusal,
  ): void {
    const id = record.requestId;
    if ('code' in admitted) {
      ctx.audit?.(req, admitted, id);
      refused(record, admitted);
      if (admitted.page) {
        const status = ERROR_CODES[admitted.code].status;
        record.bytesOut = sendPage(res, status, id, signInPage(admitted.page), admitted.headers);
      } else {
        record.bytesOut = sendError(res, admitted.code, id, refusalOptions(admitted));
      }
      return;
    }
    const principal = admittedTo(record, admitted);
    ctx.proxy.send(req, res, {
      upstream: admitted.route.snapshot.upstream,
      path: admitted.rest,
      headers: upstreamRequestHeaderList(req.headers, headersFor(req, admitted, principal, id, false)),
      requestId: id,
      stats: record,
    });
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
        const current = observe(req, res, id);
        record = current;
        if (url.startsWith(BROWSER_PREFIX)) {
          // Read now: a refused oversized form closes the connection before the response finishes.
          current.remote = ctx.clientAddress(req);
          browserRoutes(req, res, id).catch((err: unknown) => fail(req, res, id, err, current));
          return;
        }
        const admitted = admit(req);
        if (admitted instanceof Promise) {
          admitted.then((a) => respond(req, res, current, a)).catch((err: unknown) => fail(req, res, id, err, current));
        } else {
          respond(req, res, current, admitted);
        }
      } catch (err) {
        fail(req, res, id, err, record);
      }
    },
    /**
     * The `upgrade` listener: WebSocket handshakes are authenticated like any request first. Its
     * access line, metrics and usage are written when the caller's connection closes: right after
     * a refusal, or when the relay ends (status 101, with the bytes relayed each way).
     */
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
      const id = requestIdOf(req);
      const record = new RequestRecord(id, req, unknownSeries);
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
        .then(() => ((req.url ?? '/').startsWith(BROWSER_PREFIX) ? { code: 'ROUTE_NOT_FOUND' as const } : admit(req)))
        .then((admitted) => {
          if ('code' in admitted) {
            ctx.audit?.(req, admitted, id);
            refused(record, admitted);
            return refuse(admitted);
          }
          const principal = admittedTo(record, admitted);
          const relay = { deployment: admitted.route.snapshot.name, principal: admitted.principal, requestId: id };
          relays.add(socket, relay, missed);
          proxyUpgrade(req, socket, head, {
            upstream: admitted.route.snapshot.upstream,
            path: admitted.rest,
            headers: upstreamRequestHeaders(req.headers, headersFor(req, admitted, principal, id, true)),
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

/** A request target the gateway routed to a deployment. */
interface Routed {
  readonly ok: true;
  readonly deployment: string;
  readonly rest: string;
  /** Routed by `<deployment>.<base_domain>` rather than by the first path segment. */
  readonly hostRouted: boolean;
}

/** The record of a data-plane request, left on its response for the shared `close` listener. */
const RECORD = Symbol('modelgate.record');
type RecordedResponse = ServerResponse & { [RECORD]?: RequestRecord };

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
    reason: denial.denied,
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

/** The status of an accepted WebSocket handshake. */
const SWITCHING_PROTOCOLS = 101;

/** What refuses a routed deployment before any credential is looked at: settings unreadable, or disabled. */
function unavailable(entry: Route): Refusal | undefined {
  if (entry.stale) {
    return {
      code: 'NOT_READY',
      message: 'The deployment’s settings cannot be read right now',
      deployment: entry.snapshot.name,
    };
  }
  return entry.enabled ? undefined : { code: 'DEPLOYMENT_DISABLED', deployment: entry.snapshot.name };
}
