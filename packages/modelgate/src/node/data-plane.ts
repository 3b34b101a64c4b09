import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { ListenAddress } from '../config/address.js';
import type { Config } from '../config/schema.js';
import type { ControlContext } from '../controlplane/operations/context.js';
import { listServedDeploymentNames, loadServedDeployment } from '../controlplane/operations/deployments.js';
import type { RefusalRecorder } from '../dataplane/audit-refusals.js';
import { dataPlaneVerifiers } from '../dataplane/authenticate.js';
import { continueAfterAdmission } from '../dataplane/continue.js';
import { IssuerRights } from '../dataplane/issuer-rights.js';
import { GatewayMetrics } from '../dataplane/metrics.js';
import { createProxy, type UpstreamProxy } from '../dataplane/proxy.js';
import type { RateCounter } from '../dataplane/rate-counter.js';
import { RouteTable } from '../dataplane/route-table.js';
import { createGateway, type Gateway } from '../dataplane/server.js';
import { UsageRecorder } from '../dataplane/usage-recorder.js';
import { ApiKeyVerifier } from '../dataplane/verifiers/api-key.js';
import { ApiTokenVerifier } from '../dataplane/verifiers/api-token.js';
import { BasicVerifier } from '../dataplane/verifiers/basic.js';
import { OidcVerifier } from '../dataplane/verifiers/oidc.js';
import type { PlatformJwtVerifier } from '../dataplane/verifiers/platform-jwt.js';
import { type ClientAddress, validatedTrustedProxies } from '../http/client-address.js';
import { clientErrorHandler } from '../http/client-error.js';
import type { CheckSlots } from '../http/expensive-check-limiter.js';
import type { ClusterGate, Readiness } from '../http/health.js';
import { createListenerServer, type TlsFiles } from '../http/listen.js';
import { useProxyProtocol } from '../http/proxy-protocol.js';
import type { Throttle } from '../http/throttle.js';
import type { TrafficRing } from '../kernel/traffic-ring.js';
import type { NodeKeyVerifier } from '../keys/node-keys.js';
import type { Logger } from '../log/logger.js';
import { addCredentialUsage } from '../store/credential-usage.js';

/** How often the route table re-reads every deployment, as a backstop for a lost event. */
export const ROUTE_RECONCILE_MS = 30_000;
/** An external issuer's JWKS is refreshed on use after this long (kept if the refresh fails). */
export const OIDC_JWKS_MAX_AGE_MS = 600_000;

export interface DataPlaneDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly control: ControlContext;
  readonly readiness: Readiness;
  /** Undefined when token authorization is disabled. */
  readonly nodeKeys: NodeKeyVerifier | undefined;
  readonly throttle: Throttle;
  /** Where rate limits are counted (X3): this process's, the primary's, or Redis. */
  readonly rates: RateCounter;
  /** `trusted_proxies`' one client address: throttle keys, password-check shares, access line. */
  readonly clientAddress: ClientAddress;
  /** Platform JWTs: the node's verifier, or in a worker its own over the same store and keys. */
  readonly platformJwt: PlatformJwtVerifier;
  /** The node's cap on password checks (`password_check_concurrency`, fair per client). */
  readonly checkSlots: CheckSlots;
  /** Audit of refusals: the node's writer, or in a worker a relay to the primary's. */
  readonly audit?: RefusalRecorder;
  readonly address: ListenAddress;
  readonly tls: TlsFiles;
  /** Where the data plane's metrics are registered (the node's registry, or a worker's own). */
  readonly registry: Registry;
  /**
   * The node's clock (epoch ms) the expiry and grace of API keys and tokens, external tokens and
   * issuer key fetches are timed by; default `Date.now`.
   */
  readonly clock?: () => number;
  /** Where the gateway counts each deployment's last hour (the console's chart). */
  readonly traffic?: TrafficRing;
  /**
   * This replica's standing in its PostgreSQL cluster: while it is not ready, protected
   * deployments answer 503 `NOT_READY` (fail closed). Undefined on a single node.
   */
  readonly cluster?: ClusterGate;
}

/** Credential kinds whose usage is counted per credential (`GET /api/v1/api-keys`, `GET /api/v1/tokens`). */
export const USAGE_KINDS = ['api_key', 'api_token'] as const;

/** The data plane, built and not yet listening. */
export interface DataPlane {
  readonly server: Server;
  /** Closes the route table and the upstream connections (after the server stopped accepting). */
  close(): Promise<void>;
}

/**
 * Builds the data plane: the route table (loaded, following the bus), the verifiers, the
 * upstream proxy and the inference listener. The same in a single-process node and in each
 * worker of a multi-process one; only the throttle, the password-check slots, the audit sink, the
 * node keys and the platform JWT verifier differ.
 */
export async function createDataPlane(deps: DataPlaneDeps): Promise<DataPlane> {
  const { config, log, control } = deps;
  // Only these peers may ask the forward-auth decision endpoints.
  const trusted = validatedTrustedProxies(config.trusted_proxies);
  // Gauges read at scrape time, from the parts built below.
  let server: Server | undefined;
  let proxy: UpstreamProxy | undefined;
  let gateway: Gateway | undefined;
  const metrics = new GatewayMetrics(deps.registry, {
    connections: () =>
      new Promise((resolve) => {
        if (server === undefined) resolve(0);
        else server.getConnections((err, count) => resolve(err ? 0 : count));
      }),
    httpStreams: () => proxy?.inFlight() ?? 0,
    webSockets: () => gateway?.openWebSockets() ?? 0,
  });
  const routes = new RouteTable(
    (name) => loadServedDeployment(control, name),
    (err) => log.warn({ err: String(err) }, 'route reload failed; the deployment answers 503 until it succeeds'),
    (name) => metrics.forget(name),
  );
  routes.follow(control.bus);
  try {
    await routes.loadAll(await listServedDeploymentNames(control));
  } catch (err) {
    routes.close();
    throw err;
  }
  routes.reconcileEvery(ROUTE_RECONCILE_MS, () => listServedDeploymentNames(control));
  proxy = createProxy({
    connectTimeoutMs: config.upstream_connect_timeout_ms,
    headersTimeoutMs: config.upstream_timeout_ms,
    onError: (err, info) =>
      log.warn(
        { err: String(err), request_id: info.requestId, code: info.code, phase: info.phase },
        'upstream failure',
      ),
  });
  const usage = new UsageRecorder({
    kinds: USAGE_KINDS,
    intervalMs: config.usage_flush_interval_ms,
    write: (batch) => addCredentialUsage(control.store, batch),
    onError: (err, pending) => log.warn({ err: String(err), pending }, 'credential usage not written; will retry'),
  });
  gateway = createGateway({
    log,
    readiness: deps.readiness,
    routes,
    verifiers: dataPlaneVerifiers({
      nodeKeys: deps.nodeKeys,
      apiKeys: new ApiKeyVerifier(control.store, control.bus, deps.clock),
      apiTokens: new ApiTokenVerifier(control.store, control.bus, deps.clock),
      basic: new BasicVerifier(deps.checkSlots, control.bus),
      platformJwt: deps.platformJwt,
      oidc: new OidcVerifier({
        cooldownMs: config.oidc_jwks_cooldown_s * 1000,
        maxAgeMs: OIDC_JWKS_MAX_AGE_MS,
        now: deps.clock,
      }),
      // One per process: what `authorize` bounds a person's credential by (cached, evicted on access.changed).
      rights: new IssuerRights(control.store, control.bus),
    }),
    throttle: deps.throttle,
    rates: deps.rates,
    clientAddress: deps.clientAddress,
    proxy,
    upgrade: { connectTimeoutMs: config.upstream_connect_timeout_ms, headersTimeoutMs: config.upstream_timeout_ms },
    baseDomain: config.base_domain,
    trustedPeer: (address) => trusted.has(address),
    decisionCacheS: config.forward_auth_cache_s,
    proto: deps.address.protocol,
    bus: control.bus,
    audit: deps.audit,
    metrics,
    usage,
    traffic: deps.traffic,
    cluster: deps.cluster,
  });
  const listener = createListenerServer(deps.address, gateway.request, deps.tls);
  // In each worker too: node:cluster hands every worker accepted sockets, header unread.
  useProxyProtocol(listener, config, 'inference', log);
  server = listener;
  listener.on('upgrade', gateway.upgrade);
  listener.on('clientError', clientErrorHandler(log, 'inference'));
  listener.on('checkContinue', continueAfterAdmission(gateway.request));
  const upstream = proxy;
  return {
    server: listener,
    async close() {
      await upstream.close();
      routes.close();
      // After the last request finished: its use is in this final batch.
      await usage.close();
    },
  };
}
