import type { ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from './request-id.js';
import { sendError, sendJson } from './respond.js';

/** Liveness and readiness, shared by the three listeners. */
export const HEALTH_PREFIX = '/_health/';
export const LIVE_PATH = '/_health/live';
export const READY_PATH = '/_health/ready';

export interface Readiness {
  /** Resolves true when the node can serve: store reachable and not shutting down. */
  check(): Promise<{ ready: boolean; reason?: string }>;
}

/**
 * Whether this replica of a PostgreSQL cluster is in step with the others (see
 * `node/cluster/replica-set.ts`). The data plane refuses protected requests while it is not.
 */
export interface ClusterGate {
  /** False while this replica may have missed a revoking change (past its grace): fail closed. */
  ready(): boolean;
  /** Why it is not in step (also during the grace), for `/_health/ready`; undefined when it is. */
  reason(): string | undefined;
}

/**
 * Readiness from a store ping, bounded in time so a hung database cannot hang the probe, and
 * from the cluster gate when the node is a replica of a PostgreSQL cluster.
 */
export function createReadiness(options: {
  ping: () => Promise<void>;
  isShuttingDown: () => boolean;
  cluster?: ClusterGate;
  timeoutMs?: number;
}): Readiness {
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    async check() {
      if (options.isShuttingDown()) return { ready: false, reason: 'shutting down' };
      if (options.cluster && !options.cluster.ready()) {
        return { ready: false, reason: options.cluster.reason() ?? 'behind the cluster' };
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('store ping timed out')), timeoutMs);
      });
      try {
        await Promise.race([options.ping(), timeout]);
        return { ready: true };
      } catch {
        return { ready: false, reason: 'store unreachable' };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Answers `/_health/live` and `/_health/ready` on a raw node:http listener (the data plane and
 * the metrics listener; the management API has its own routes).
 *
 * @returns whether the path was a health route and has been answered.
 */
export async function answerHealth(
  path: string,
  res: ServerResponse,
  requestId: string,
  readiness: Readiness,
): Promise<boolean> {
  if (path === LIVE_PATH) {
    sendJson(res, 200, { status: 'live' }, { [REQUEST_ID_HEADER]: requestId });
    return true;
  }
  if (path !== READY_PATH) return false;
  const state = await readiness.check();
  if (state.ready) sendJson(res, 200, { status: 'ready' }, { [REQUEST_ID_HEADER]: requestId });
  else sendError(res, 'NOT_READY', requestId, { message: `The node is not ready: ${state.reason}` });
  return true;
}
