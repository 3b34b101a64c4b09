import cluster, { type Worker } from 'node:cluster';
import { type ListenAddress, parseAddress } from '../../config/address.js';
import type { Config } from '../../config/schema.js';
import type { RefusalSink } from '../../dataplane/audit-refusals.js';
import type { RateCounter } from '../../dataplane/rate-counter.js';
import type { ExpensiveCheckLimiter } from '../../http/expensive-check-limiter.js';
import { formatHost } from '../../http/listen.js';
import { SharedFailureThrottle } from '../../http/shared-throttle.js';
import type { RateLimit } from '../../kernel/rate-limit.js';
import type { Logger } from '../../log/logger.js';
import type { AuditRecord } from '../../store/audit-record.js';
import type { MetricsJson } from '../metrics.js';
import { type RunningNode, startNode } from '../node.js';
import { rateCounterOn } from '../shared-counters.js';
import { Channel, type Handlers } from './channel.js';
import type { ClusterState, Reloaded, Welcome } from './worker.js';

/**
 * The primary of a multi-process node (`workers` > 1): it runs everything that must be one per
 * node (the store's change-log feed, the management API and metrics, the node keys and their
 * file, the failure throttle, the password-check limiter, the Redis link and the audit writer) and forks `count` workers that serve
 * model traffic on the shared inference port.
 *
 * Every revoking change published on the primary's bus (an API call here, or the change log)
 * is sent to every worker and the publish resolves only when all have acknowledged it, so the
 * API call that made it answers once it is in force everywhere. The same holds for a key
 * rotation and for a throttle lock.
 */
export async function startCluster(
  config: Config,
  log: Logger,
  count: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<RunningNode> {
  const node = await startNode(config, log, env, { dataPlane: false });
  // The workers' one count; with `redis_url` shared with the other replicas over the node's link.
  const throttle = new SharedFailureThrottle({
    name: 'data',
    limit: config.failure_limit,
    windowMs: config.failure_window_s * 1000,
    link: node.redis,
  });
  /** Workers that said hello: they receive (and acknowledge) every broadcast. */
  const members = new Set<Channel>();
  /** Every forked worker's link, for the shutdown. */
  const links = new Map<Worker, Channel>();
  let closing = false;

  const broadcast = async (method: string, payload: unknown): Promise<void> => {
    // A worker that dies meanwhile serves nobody any more: its rejection is not a failure.
    await Promise.all([...members].map((member) => member.call(method, payload).catch(() => undefined)));
  };
  node.bus.subscribe((event) => broadcast('event', event));
  node.nodeKeys?.onRotate((state) => broadcast('nodeKeys', state));
  // One scrape reports the whole node: the primary's registry plus every serving worker's.
  node.metrics.addSource(async () => {
    const lists = await Promise.all(
      [...members].map((member) =>
        withTimeout(member.call<MetricsJson>('metrics'), METRICS_TIMEOUT_MS).catch(() => null),
      ),
    );
    return lists.filter((list): list is MetricsJson => list !== null);
  });

  // A replica of a PostgreSQL cluster: its standing (ready or not, and why) is the primary's,
  // passed on to the workers when it changes, so they fail closed with it.
  const clusterState = (): ClusterState | null =>
    node.cluster ? { ready: node.cluster.ready(), reason: node.cluster.reason() ?? null } : null;
  let lastCluster = JSON.stringify(clusterState());
  const clusterWatch = node.cluster
    ? setInterval(() => {
        const now = JSON.stringify(clusterState());
        if (now === lastCluster) return;
        lastCluster = now;
        void broadcast('cluster', JSON.parse(now));
      }, CLUSTER_WATCH_MS).unref()
    : undefined;

  // Workers report Redis in their readiness detail as the primary sees it (they hold no link).
  const redisState = (): boolean | null => (node.redis ? node.redis.up : null);
  node.redis?.onChange((up) => void broadcast('redis', up));

  const rates = rateCounterOn(node.redis);
  const shared = nodeWideState({ throttle, rates, slots: node.passwordChecks, audit: node.audit, broadcast });

  const fork = (): { worker: Worker; listening: Promise<number> } => {
    const worker = cluster.fork();
    const channel: Channel = new Channel(worker, {
      hello: (): Welcome => {
        members.add(channel);
        return { nodeKeys: node.nodeKeys?.verificationState ?? null, cluster: clusterState(), redis: redisState() };
      },
      ...shared,
    });
    links.set(worker, channel);
    const listening = new Promise<number>((resolve, reject) => {
      worker.once('listening', (address) => resolve(address.port));
      worker.once('exit', (code) => reject(new Error(`A worker exited with ${code} before it was serving`)));
    });
    worker.on('exit', (code, signal) => {
      channel.close();
      members.delete(channel);
      links.delete(worker);
      if (closing) return;
      log.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting a replacement');
      fork().listening.catch((err: unknown) => log.error({ err: String(err) }, 'replacement worker failed'));
    });
    return { worker, listening };
  };

  const workers: Worker[] = [];
  let port: number;
  try {
    const started = Array.from({ length: count }, fork);
    workers.push(...started.map((s) => s.worker));
    [port] = (await Promise.all(started.map((s) => s.listening))) as [number];
  } catch (err) {
    closing = true;
    for (const worker of workers) worker.kill();
    await node.close();
    throw err;
  }
  const address = parseAddress(config.inference_address) as ListenAddress;
  const urls = { ...node.urls, inference: `${address.protocol}://${formatHost(address.host)}:${port}` };
  log.info({ ...urls, workers: count }, 'modelgate started');

  let stopping: Promise<void> | undefined;
  let level = config.log_level;
  return {
    ...node,
    urls,
    reloaded: (next) => {
      // Like the node's own summary, written at the more verbose of the old and new levels.
      const values = log.levels.values;
      const at = (values[next.log_level] ?? 0) < (values[level] ?? 0) ? next.log_level : level;
      level = next.log_level;
      const payload: Reloaded = {
        log_level: next.log_level,
        certificate_file: next.certificate_file,
        private_key_file: next.private_key_file,
      };
      // Logged once every worker has applied it.
      broadcast('reload', payload).then(
        () =>
          log.child({}, { level: at }).info({ workers: members.size, log_level: next.log_level }, 'workers reloaded'),
        (err: unknown) => log.error({ err: String(err) }, 'reload: workers not told'),
      );
    },
    close() {
      stopping ??= (async () => {
        closing = true;
        clearInterval(clusterWatch);
        // Each worker drains its in-flight requests, then is let go.
        await Promise.all(
          [...links].map(async ([worker, link]) => {
            const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
            await link.call('shutdown').catch(() => undefined);
            if (!worker.isDead()) worker.disconnect();
            await exited;
          }),
        );
        await node.close();
      })();
      return stopping;
    },
  };
}

/** An `unslot` payload: `{ client, failed }`, or a bare client (a check that did not fail). */
function unslotted(payload: unknown): [client: string, failed: boolean] {
  if (typeof payload === 'object' && payload !== null && 'client' in payload) {
    const { client, failed } = payload as { client: unknown; failed?: unknown };
    return [String(client), failed === true];
  }
  return [String(payload), false];
}

/** How often the primary looks whether its cluster standing changed (a grace ends on its own). */
const CLUSTER_WATCH_MS = 100;

/** How long a scrape waits for a worker's metrics; a worker that does not answer is left out. */
const METRICS_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The calls a worker makes for what is counted once per node: the failure throttle (asked only
 * on a cache miss or a failure), the password-check limiter (node-wide cap and per-client share,
 * as `CheckSlots`), and the audit writer for refusals. Every lock the throttle learns of (its
 * own, and with Redis other replicas') is broadcast to the workers, and a failure that locks a
 * key is answered only after every worker mirrors the lock.
 */
export function nodeWideState(deps: {
  readonly throttle: SharedFailureThrottle;
  readonly rates: RateCounter;
  readonly slots: ExpensiveCheckLimiter;
  readonly audit?: RefusalSink;
  broadcast(method: string, payload: unknown): Promise<void>;
}): Handlers {
  const { throttle, rates, slots, audit, broadcast } = deps;
  throttle.onLock((key, until) => broadcast('lock', { key, until }));
  return {
    enter: (key) => throttle.enter(String(key)),
    fail: (key) => throttle.fail(String(key)),
    release: (key) => throttle.release(String(key)),
    rate: (payload) => {
      const { key, limit } = payload as { key: string; limit: RateLimit };
      return rates.take(String(key), limit);
    },
    slot: (client) => slots.acquire(String(client)),
    unslot: (payload) => slots.release(...unslotted(payload)),
    audit: (record) => audit?.refusal(record as AuditRecord),
  };
}
