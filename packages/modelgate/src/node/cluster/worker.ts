import { type ListenAddress, parseAddress } from '../../config/address.js';
import type { Config } from '../../config/schema.js';
import type { ControlContext } from '../../controlplane/operations/context.js';
import { dataPlaneRecorder } from '../../dataplane/audit-refusals.js';
import type { RateCount, RateCounter } from '../../dataplane/rate-counter.js';
import { startPlatformJwt } from '../../dataplane/verifiers/platform-jwt-setup.js';
import { createClientAddress } from '../../http/client-address.js';
import type { CheckDecision, CheckSlots } from '../../http/expensive-check-limiter.js';
import { type ClusterGate, createReadiness } from '../../http/health.js';
import { listen } from '../../http/listen.js';
import { createLocalBus, isChangeEvent } from '../../kernel/event-bus.js';
import { NodeKeyReplica, type NodeKeyState } from '../../keys/node-keys.js';
import type { LevelControl } from '../../log/level-control.js';
import type { Logger } from '../../log/logger.js';
import { openStore } from '../../store/database.js';
import { loadMasterKey } from '../../store/secrets/master-key.js';
import { createDataPlane, type DataPlane } from '../data-plane.js';
import { createMetricsRegistry } from '../metrics.js';
import { drain } from '../node.js';
import { reloadTls } from '../reload.js';
import { redisDetail } from '../shared-counters.js';
import { Channel, type Endpoint } from './channel.js';
import { RemoteThrottle } from './remote-throttle.js';

/** What a SIGHUP reload on the primary put in force, passed on to every worker. */
export interface Reloaded {
  readonly log_level: string;
  readonly certificate_file: string;
  readonly private_key_file: string;
}

/** A replica's standing in its PostgreSQL cluster, as the primary passes it on. */
export interface ClusterState {
  readonly ready: boolean;
  readonly reason: string | null;
}

/** What the primary answers to a worker's `hello`. */
export interface Welcome {
  readonly nodeKeys: NodeKeyState | null;
  /** Null when the node is not a replica of a PostgreSQL cluster. */
  readonly cluster: ClusterState | null;
  /** Whether the primary's Redis link is up; null without `redis_url`. */
  readonly redis: boolean | null;
}

/**
 * One data-plane worker of a multi-process node: its own store connection, route table,
 * credential caches and inference listener (the port is shared through node:cluster), and
 * nothing that must be one per node. The failure throttle, the password-check limiter and the
 * audit writer are the primary's; node keys are the primary's state; revoking events come from the primary, which
 * waits for this worker's acknowledgement before the API call that caused them answers.
 */
export async function runWorker(
  config: Config,
  log: Logger,
  env: Readonly<Record<string, string | undefined>> = process.env,
  levels?: LevelControl,
): Promise<void> {
  const bus = createLocalBus();
  let replica: NodeKeyReplica | undefined;
  let plane: DataPlane | undefined;
  let shuttingDown = false;
  let cluster: ClusterState | null = null;
  let redis: boolean | null = null;
  // This worker's process and data-plane metrics; the primary adds every worker's up per scrape.
  const registry = createMetricsRegistry();
  const primary: Channel = new Channel(process as unknown as Endpoint, {
    // Acknowledged once every listener (route reloads included) has settled.
    event: (event) => (isChangeEvent(event) ? bus.publish(event) : undefined),
    nodeKeys: (state) => replica?.update(state as NodeKeyState),
    lock: (payload) => {
      const { key, until } = payload as { key: string; until: number };
      throttle.mirror(key, until);
    },
    // SIGHUP is handled by the primary (it holds the start lock); it passes the result on.
    reload: (payload) => {
      const next = payload as Reloaded;
      levels?.set(log, next.log_level);
      try {
        if (plane) {
          reloadTls([plane.server], { certificateFile: next.certificate_file, privateKeyFile: next.private_key_file });
        }
      } catch (err) {
        log.error({ err: (err as Error).message }, 'reload: TLS certificate and key kept as they were');
      }
    },
    cluster: (state) => {
      cluster = state as ClusterState;
    },
    redis: (up) => {
      redis = up === true;
    },
    metrics: () => registry.getMetricsAsJSON(),
    shutdown: async () => {
      shuttingDown = true;
      if (plane) await drain([plane.server], config.shutdown_timeout_ms);
      await plane?.close();
      await store.close();
    },
  });
  const throttle = new RemoteThrottle(primary);
  // Rate limits are counted once per node, in the primary (or in Redis, shared by replicas).
  const rates: RateCounter = { take: (key, limit) => primary.call<RateCount>('rate', { key, limit }) };
  // The node's one password-check limiter is the primary's: per-client shares hold node-wide.
  const slots: CheckSlots = {
    acquire: (client) => primary.call<CheckDecision>('slot', client),
    release: (client, failed) => primary.notify('unslot', { client, failed: failed === true }),
  };
  // The primary decides when workers stop (a terminal's Ctrl-C reaches the whole group).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => {});
  process.on('disconnect', () => {
    // The primary is gone: no one holds the node's state any more.
    primary.close();
    process.exit(shuttingDown ? 0 : 1);
  });

  const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
  const welcome = await primary.call<Welcome>('hello');
  if (welcome.nodeKeys) replica = new NodeKeyReplica(welcome.nodeKeys);
  cluster = welcome.cluster;
  redis = welcome.redis;
  const gate: ClusterGate | undefined = cluster
    ? { ready: () => cluster?.ready !== false, reason: () => cluster?.reason ?? undefined }
    : undefined;
  const control: ControlContext = { store, bus, masterKey: loadMasterKey(config.data_dir, env), config };
  const address = parseAddress(config.inference_address) as ListenAddress;
  // The primary created the first signing key before forking: this ring only loads the keys, and
  // follows rotations and revocations through the primary's acknowledged events.
  const { platformJwt } = await startPlatformJwt(store, control.masterKey, config, bus);
  // Workers see X-Forwarded-For themselves: the throttle keys they send the primary are final.
  const clientAddress = createClientAddress(config.trusted_proxies);
  plane = await createDataPlane({
    config,
    log,
    control,
    readiness: createReadiness({
      ping: () => store.ping(),
      isShuttingDown: () => shuttingDown,
      cluster: gate,
      detail: () => redisDetail(redis),
    }),
    nodeKeys: replica,
    throttle,
    rates,
    clientAddress,
    checkSlots: slots,
    platformJwt,
    // One writer per node, with one refusal rate: the primary's.
    audit: dataPlaneRecorder({ refusal: (record) => primary.notify('audit', record) }, clientAddress),
    address,
    tls: { certificateFile: config.certificate_file, privateKeyFile: config.private_key_file },
    registry,
    cluster: gate,
  });
  await listen(plane.server, address, 'inference_address');
}
