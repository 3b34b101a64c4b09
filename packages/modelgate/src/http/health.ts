import type { ServerResponse } from 'node:http';
import { REQUEST_ID_HEADER } from './request-id.js';
import { sendError, sendJson } from './respond.js';

/** Liveness and readiness, shared by the three listeners. */
export const HEALTH_PREFIX = '/_health/';
export const LIVE_PATH = '/_health/live';
export const READY_PATH = '/_health/ready';

/** What a readiness check found. */
export interface ReadinessState {
  readonly ready: boolean;
  /** Why it is not ready. */
  readonly reason?: string;
  /**
   * Facts that do not decide readiness, added to a ready answer's body (e.g. `redis: "down"`:
   * the node serves, counting its throttles locally).
   */
  readonly detail?: Readonly<Record<string, string>>;
}

export interface Readiness {
  /** Resolves ready when the node can serve: store reachable and not shutting down. */
  check(): Promise<ReadinessState>;
}

/** The body of a ready answer: `{"status":"ready"}` plus the state's detail. */
export function readyBody(state: ReadinessState): Record<string, string> {
  return { status: 'ready', ...state.detail };
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
  /** Facts reported with a ready answer, not deciding it (see {@link ReadinessState.detail}). */
  detail?: () => Readonly<Record<string, string>> | undefined;
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
        const detail = options.detail?.();
        return detail ? { ready: true, detail } : { ready: true };
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
  if (state.ready) sendJson(res, 200, readyBody(state), { [REQUEST_ID_HEADER]: requestId });
  else sendError(res, 'NOT_READY', requestId, { message: `The node is not ready: ${state.reason}` });
  return true;
}
