import { dataPlaneRecorder } from '../audit/data-plane.js';
import type { CheckDecision, CheckSlots } from '../auth/expensive-check-limiter.js';
import { NodeKeyReplica, type NodeKeyState } from '../auth/node-keys/node-keys.js';
import { type ListenAddress, parseAddress } from '../config/address.js';
import type { Config } from '../config/schema.js';
import type { ControlContext } from '../control/context.js';
import { type ChangeEvent, createLocalBus } from '../events/bus.js';
import type { Logger } from '../log/logger.js';
import { loadMasterKey } from '../secrets/master-key.js';
import { createDataPlane, type DataPlane } from '../server/data-plane.js';
import { createReadiness } from '../server/health.js';
import { listen } from '../server/listen.js';
import { drain } from '../server/node.js';
import { openStore } from '../store/database.js';
import { Channel, type Endpoint } from './channel.js';
import { RemoteThrottle } from './remote-throttle.js';

/** What the primary answers to a worker's `hello`. */
export interface Welcome {
  readonly nodeKeys: NodeKeyState | null;
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
): Promise<void> {
  const bus = createLocalBus();
  let replica: NodeKeyReplica | undefined;
  let plane: DataPlane | undefined;
  let shuttingDown = false;
  const primary: Channel = new Channel(process as unknown as Endpoint, {
    // Acknowledged once every listener (route reloads included) has settled.
    event: (event) => bus.publish(event as ChangeEvent),
    nodeKeys: (state) => replica?.update(state as NodeKeyState),
    lock: (payload) => {
      const { key, until } = payload as { key: string; until: number };
      throttle.mirror(key, until);
    },
    shutdown: async () => {
      shuttingDown = true;
      if (plane) await drain([plane.server], config.shutdown_timeout_ms);
      await plane?.close();
      await store.close();
    },
  });
  const throttle = new RemoteThrottle(primary);
  // The node's one password-check limiter is the primary's: per-client shares hold node-wide.
  const slots: CheckSlots = {
    acquire: (client) => primary.call<CheckDecision>('slot', client),
    release: (client) => primary.notify('unslot', client),
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
  const control: ControlContext = { store, bus, masterKey: loadMasterKey(config.data_dir, env), config };
  const address = parseAddress(config.inference_address) as ListenAddress;
  plane = await createDataPlane({
    config,
    log,
    control,
    readiness: createReadiness({ ping: () => store.ping(), isShuttingDown: () => shuttingDown }),
    nodeKeys: replica,
    throttle,
    checkSlots: slots,
    // One writer per node, with one refusal rate: the primary's.
    audit: dataPlaneRecorder({ refusal: (record) => primary.notify('audit', record) }),
    address,
    tls: { certificateFile: config.certificate_file, privateKeyFile: config.private_key_file },
  });
  await listen(plane.server, address, 'inference_address');
}
