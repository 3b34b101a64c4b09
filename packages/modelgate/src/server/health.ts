/** Liveness and readiness, shared by the three listeners. */
export const LIVE_PATH = '/_health/live';
export const READY_PATH = '/_health/ready';

export interface Readiness {
  /** Resolves true when the node can serve: store reachable and not shutting down. */
  check(): Promise<{ ready: boolean; reason?: string }>;
}

/**
 * Readiness from a store ping, bounded in time so a hung database cannot hang the probe.
 */
export function createReadiness(options: {
  ping: () => Promise<void>;
  isShuttingDown: () => boolean;
  timeoutMs?: number;
}): Readiness {
  const timeoutMs = options.timeoutMs ?? 2000;
  return {
    async check() {
      if (options.isShuttingDown()) return { ready: false, reason: 'shutting down' };
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
