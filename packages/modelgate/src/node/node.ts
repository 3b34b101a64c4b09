import { rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type ListenAddress, parseAddress } from '../config/address.js';
import type { Config } from '../config/schema.js';
import { buildManagementApp } from '../controlplane/api/app.js';
import { throttledAuthenticator } from '../controlplane/api/failure-throttling.js';
import { browserGuardPolicy } from '../controlplane/api/origin-guard.js';
import { reportUnacknowledged } from '../controlplane/api/replica-report.js';
import { scheduleAuditRetention } from '../controlplane/audit/retention.js';
import { AuditWriter } from '../controlplane/audit/writer.js';
import { createManagementAuthenticator } from '../controlplane/authenticator.js';
import type { ControlContext } from '../controlplane/operations/context.js';
import { SessionService } from '../controlplane/sessions/service.js';
import { dataPlaneRecorder } from '../dataplane/audit-refusals.js';
import { startPlatformJwt } from '../dataplane/verifiers/platform-jwt-setup.js';
import { createClientAddress } from '../http/client-address.js';
import { clientErrorHandler } from '../http/client-error.js';
import type { ExpensiveCheckLimiter } from '../http/expensive-check-limiter.js';
import { type ClusterGate, createReadiness } from '../http/health.js';
import { createListenerServer, formatHost, listen } from '../http/listen.js';
import { useProxyProtocol } from '../http/proxy-protocol.js';
import { createLocalBus, type EventBus } from '../kernel/event-bus.js';
import { ANONYMOUS } from '../kernel/principal.js';
import { TrafficRing } from '../kernel/traffic-ring.js';
import { AdminKeyVerifier } from '../keys/admin-keys.js';
import type { NodeKeyService } from '../keys/node-key-service.js';
import type { Logger } from '../log/logger.js';
import { insertAuditRecords } from '../store/audit.js';
import { type ChangeFollower, followChangeLog } from '../store/change-log.js';
import { openStore, type Store } from '../store/database.js';
import type { RedisLink } from '../store/redis-link.js';
import { openMasterKey } from '../store/secrets/master-key.js';
import { ReplicaSet } from './cluster/replica-set.js';
import { createDataPlane } from './data-plane.js';
import {
  createMetricsRegistry,
  metricsHandler,
  NodeMetrics,
  registerAuditDropped,
  registerRedisUp,
} from './metrics.js';
import { openSharedCounters, redisDetail } from './shared-counters.js';
import { acquireStartLock } from './start-lock.js';
import { setUpTokenAuthorization } from './token-authorization.js';

/** A running node: its bound ports and the way to stop it. */
export interface RunningNode {
  readonly config: Config;
  readonly store: Store;
  readonly bus: EventBus;
  /**
   * Base URLs actually bound (port 0 resolved), e.g. `http://127.0.0.1:8080`; `inference` is
   * empty when the node was started without its data plane (the primary of a multi-process node).
   */
  readonly urls: { readonly inference: string; readonly management: string; readonly metrics: string };
  readonly management: FastifyInstance;
  readonly control: ControlContext;
  /** The node keys (undefined when token authorization is disabled). */
  readonly nodeKeys: NodeKeyService | undefined;
  /** The node's one audit writer (workers of a multi-process node send their refusals here). */
  readonly audit: AuditWriter;
  /** The node's one cap on password checks (workers of a multi-process node ask this one). */
  readonly passwordChecks: ExpensiveCheckLimiter;
  /** The bound listener servers (for SIGHUP's TLS reload). */
  readonly servers: readonly Server[];
  /** What the metrics listener serves (a multi-process node adds its workers' metrics). */
  readonly metrics: NodeMetrics;
  /**
   * Told the configuration a SIGHUP reload put in force (`reloadNode`'s result); a multi-process
   * node passes the log level and TLS files on to its workers.
   */
  readonly reloaded?: (config: Config) => void;
  /** This replica's standing in its PostgreSQL cluster; undefined on SQLite (one node). */
  readonly cluster?: ClusterGate;
  /**
   * The node's Redis link (`redis_url`; undefined without it), closed by `close()`: the
   * primary of a multi-process node counts its workers' throttle on it.
   */
  readonly redis?: RedisLink;
  /** Stops accepting, lets in-flight requests finish (bounded), closes the store. Idempotent. */
  close(): Promise<void>;
}

/** How a node is started, beyond its configuration. */
export interface NodeOptions {
  /** Whether this process serves model traffic (default true; a multi-process primary does not). */
  readonly dataPlane?: boolean;
  /**
   * The node's one clock (epoch ms, default `Date.now`) for its credentials: node keys expire,
   * signing keys are retired, platform JWTs issued, revoked and verified, API keys' and tokens'
   * lifetimes and graces computed and judged, external OIDC tokens verified and their issuers'
   * keys refetched by it. Tests move it
   * instead of waiting. (Worker processes of a multi-process node keep real time: a function does
   * not cross a process boundary.)
   */
  readonly clock?: () => number;
}

/**
 * How often each process polls the store's change log: on SQLite it bounds cross-process
 * staleness; on PostgreSQL changes arrive by NOTIFY and the poll is the catch-up path.
 */
export const CHANGE_POLL_MS = 250;

/**
 * Starts a node: opens and migrates the store, then binds the inference, management and
 * metrics listeners. Nothing is left running if any step fails.
 *
 * @example
 * ```ts
 * const node = await startNode(config, logger);
 * console.log(node.urls.inference);
 * await node.close();
 * ```
 */
export async function startNode(
  config: Config,
  log: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: NodeOptions = {},
): Promise<RunningNode> {
  const addresses = {
    inference: parseAddress(config.inference_address) as ListenAddress,
    management: parseAddress(config.management_address) as ListenAddress,
    metrics: parseAddress(config.metrics_address) as ListenAddress,
  };
  const tls = { certificateFile: config.certificate_file, privateKeyFile: config.private_key_file };
  const cleanups: (() => Promise<void> | void)[] = [];
  const servers: Server[] = [];
  let shuttingDown = false;
  let createdMasterKey: string | undefined;

  try {
    // First: a second node in this directory must not touch the first one's key file or store.
    const lock = acquireStartLock(resolve(config.key_file));
    cleanups.push(() => lock.release());
    const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
    cleanups.push(() => store.close());
    log.info({ store: store.dialect, location: store.location }, 'store ready');
    // Registered right after the store, so it is flushed after the listeners drained, before close.
    const audit = new AuditWriter({
      write: (records) => insertAuditRecords(store, records),
      log,
      refusalsPerSecond: config.audit_refusals_per_second,
      refusalBurst: Math.max(1, Math.ceil(config.audit_refusals_per_second * 4)),
    });
    cleanups.push(() => audit.close());
    const retention = scheduleAuditRetention(store, config.audit_retention_days, log);
    cleanups.push(() => retention.stop());

    const bus = createLocalBus();
    let replicas: ReplicaSet | undefined;
    const feed = await followChangeLog(store, bus, {
      intervalMs: CHANGE_POLL_MS,
      onError: (err) => log.warn({ err: String(err) }, 'change log poll failed'),
      onApplied: (ids) => replicas?.applied(ids),
    });
    cleanups.push(() => feed.stop());
    if (store.dialect === 'postgres') {
      replicas = await joinCluster(config, log, store, bus, feed, audit);
      const joined = replicas;
      cleanups.push(() => joined.close());
    }

    // Redis (when set) counts throttles across replicas; unreachable, the node counts locally.
    const counters = await openSharedCounters(config, log);
    const redis = counters.redis;
    if (redis) cleanups.push(() => redis.close());
    const readiness = createReadiness({
      ping: () => store.ping(),
      isShuttingDown: () => shuttingDown,
      cluster: replicas,
      detail: () => redisDetail(redis?.up),
    });

    const clientAddress = createClientAddress(config.trusted_proxies);
    // A start that fails after this made the key file removes it again (see the cleanup below).
    const opened = openMasterKey(config.data_dir, env);
    createdMasterKey = opened.created;
    const masterKey = opened.key;
    const nodeKeys = await setUpTokenAuthorization(
      config,
      log,
      addresses,
      options.clock,
      store.dialect === 'postgres' ? { store, masterKey, bus } : undefined,
    );
    if (nodeKeys) cleanups.push(() => nodeKeys.removeFile());
    const adminKeys = new AdminKeyVerifier(store, bus);
    // One cap on scrypt work for the whole node, whichever listener asks for it.
    const passwordChecks = counters.passwordChecks;
    const sessions = nodeKeys
      ? new SessionService(store, {
          idleTimeoutMin: config.session_idle_timeout_min,
          absoluteTimeoutMin: config.session_absolute_timeout_min,
          failureLimit: config.failure_limit,
          failureWindowS: config.failure_window_s,
          passwordChecks,
          throttles: {
            // A username field may hold a mistyped password: its keys reach Redis only hashed.
            byUsername: counters.failureThrottle('sign-in-username', { opaqueKeys: true }),
            byAddress: counters.failureThrottle('sign-in-address'),
          },
        })
      : undefined;
    const auth = {
      enabled: nodeKeys !== undefined,
      cluster: replicas,
      authenticate: nodeKeys
        ? throttledAuthenticator(
            createManagementAuthenticator({ nodeKeys, adminKeys, sessions, apiTokens: store, now: options.clock }),
            counters.failureThrottle('management'),
            clientAddress,
          )
        : async () => ANONYMOUS,
    };

    const control: ControlContext = {
      store,
      bus,
      masterKey,
      config,
      clock: options.clock,
    };
    const { signingKeys, platformJwt } = await startPlatformJwt(store, control.masterKey, config, bus, options.clock);
    const metrics = new NodeMetrics(createMetricsRegistry());
    // Written by this process's gateway, read by the management API (per process; see the README).
    // `traffic_counts: false` leaves the gateway without it (the bench measures the ring's cost so).
    const traffic = config.traffic_counts ? new TrafficRing() : undefined;
    registerAuditDropped(metrics.registry, () => audit.dropped);
    if (redis) registerRedisUp(metrics.registry, () => redis.up);
    // With `workers` > 1 the primary serves no model traffic: its workers do (src/cluster).
    const dataPlane =
      options.dataPlane !== false
        ? await createDataPlane({
            config,
            log,
            control,
            readiness,
            nodeKeys,
            throttle: counters.failureThrottle('data'),
            rates: counters.rateCounter(options.clock),
            clientAddress,
            checkSlots: passwordChecks,
            platformJwt,
            audit: dataPlaneRecorder(audit, clientAddress),
            address: addresses.inference,
            tls,
            registry: metrics.registry,
            clock: options.clock,
            traffic,
            cluster: replicas,
          })
        : undefined;
    if (dataPlane) cleanups.push(() => dataPlane.close());
    const metricsServer = createListenerServer(addresses.metrics, metricsHandler(metrics, readiness, log), tls);
    metricsServer.on('clientError', clientErrorHandler(log, 'metrics'));
    let managementServer: Server | undefined;
    let urls: RunningNode['urls'] | undefined;
    const guard = browserGuardPolicy(config, !auth.enabled);
    const management = await buildManagementApp(
      {
        log,
        readiness,
        auth,
        nodeKeys,
        control,
        guard,
        audit,
        sessions,
        clientAddress,
        jwt: { keys: signingKeys, settings: config },
        apiTokens: config,
        traffic,
        // Known once the listeners are bound (a port 0 is chosen then).
        // With `workers` the primary runs no gateway: the configured address is the one callers use.
        console: {
          inferenceUrl: () => urls?.inference || config.inference_address,
          basicUsername: config.basic_auth_username,
        },
      },
      (handler) => {
        managementServer = createListenerServer(addresses.management, handler, tls);
        useProxyProtocol(managementServer, config, 'management', log);
        return managementServer;
      },
    );
    await management.ready();
    cleanups.push(() => management.close());

    const ports = {
      inference: dataPlane ? await bindTracked(dataPlane.server, addresses.inference, 'inference_address') : 0,
      management: await bindTracked(managementServer!, addresses.management, 'management_address'),
      metrics: await bindTracked(metricsServer, addresses.metrics, 'metrics_address'),
    };
    urls = {
      inference: dataPlane ? urlOf(addresses.inference, ports.inference) : '',
      management: urlOf(addresses.management, ports.management),
      metrics: urlOf(addresses.metrics, ports.metrics),
    };
    if (dataPlane) log.info(urls, 'modelgate started');

    let closing: Promise<void> | undefined;
    return {
      config,
      store,
      bus,
      urls,
      management,
      control,
      nodeKeys,
      audit,
      passwordChecks,
      servers,
      metrics,
      cluster: replicas,
      redis,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          await drain(servers, config.shutdown_timeout_ms);
          await runCleanups(cleanups);
          log.info('modelgate stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await drain(servers, 0);
    await runCleanups(cleanups);
    // A key made by a start that failed seals nothing yet: keeping it would make the next start
    // fail the same way (or, on a shared store, quietly diverge from the other replicas' key).
    if (createdMasterKey) rmSync(createdMasterKey, { force: true });
    throw err;
  }

  async function bindTracked(server: Server, address: ListenAddress, name: string): Promise<number> {
    const port = await listen(server, address, name);
    servers.push(server);
    return port;
  }
}

/**
 * Joins the PostgreSQL cluster: listens for changes, registers this replica, and makes every
 * change this process records wait for the live replicas' acknowledgements (see `ReplicaSet`).
 * A replica that did not acknowledge is named in the response and recorded in the audit log.
 */
async function joinCluster(
  config: Config,
  log: Logger,
  store: Store,
  bus: EventBus,
  feed: ChangeFollower,
  audit: AuditWriter,
): Promise<ReplicaSet> {
  const replicas: ReplicaSet = await ReplicaSet.start({
    store,
    databaseUrl: config.database_url,
    follower: feed,
    log,
    ackTimeoutMs: config.cluster_ack_timeout_ms,
    graceMs: config.cluster_grace_ms,
    onUnacknowledged: (late, _seq, dropped) => {
      const requestId = reportUnacknowledged(late.map((r) => r.name)) ?? null;
      if (!dropped) return;
      for (const replica of late) {
        audit.record({
          time: new Date().toISOString(),
          actor: replicas.self.name,
          actor_kind: 'replica',
          action: 'replica.drop',
          target_kind: 'replica',
          target_name: replica.name,
          outcome: 'allowed',
          status: 200,
          code: null,
          request_id: requestId,
          client_address: null,
          listener: 'management',
        });
      }
    },
  });
  // Only changes this process recorded carry a seq; those heard from others are not re-awaited.
  bus.subscribe((event) => (event.seq === undefined ? undefined : replicas.waitForAcks(event.seq)));
  return replicas;
}

function urlOf(address: ListenAddress, port: number): string {
  return `${address.protocol}://${formatHost(address.host)}:${port}`;
}

/**
 * Stops accepting on every server and waits for in-flight requests, cutting whatever is left
 * after `timeoutMs`. Idle keep-alive connections are closed as they become idle.
 */
export async function drain(servers: readonly Server[], timeoutMs: number): Promise<void> {
  const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
  const sweep = setInterval(() => {
    for (const s of servers) s.closeIdleConnections();
  }, 50);
  const cut = setTimeout(() => {
    for (const s of servers) s.closeAllConnections();
  }, timeoutMs);
  for (const s of servers) s.closeIdleConnections();
  await Promise.all(closed);
  clearInterval(sweep);
  clearTimeout(cut);
}

async function runCleanups(cleanups: (() => Promise<void> | void)[]): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // Best effort: one failing cleanup must not keep the others from running.
    }
  }
}
