import type { Logger } from '../../log/logger.js';
import { deleteAuditBefore } from '../../store/audit.js';
import type { Store } from '../../store/database.js';

const DAY_MS = 86_400_000;
/** How often old records are deleted. */
export const RETENTION_SWEEP_MS = 3_600_000;

/** The ISO time before which records go, or undefined when retention is off (0 days). */
export function retentionCutoff(days: number, now: number): string | undefined {
  return days > 0 ? new Date(now - days * DAY_MS).toISOString() : undefined;
}

/** Deletes the records older than `days` at `now`; returns how many went. */
export async function sweepAudit(store: Store, days: number, now: number): Promise<number> {
  const cutoff = retentionCutoff(days, now);
  return cutoff === undefined ? 0 : deleteAuditBefore(store, cutoff);
}

/**
 * Deletes old audit records at start and then every hour. Failures are logged and retried at the
 * next sweep; they never stop the node.
 */
export function scheduleAuditRetention(
  store: Store,
  days: number,
  log: Pick<Logger, 'info' | 'warn'>,
  now: () => number = Date.now,
): { stop(): void } {
  const sweep = () =>
    sweepAudit(store, days, now()).then(
      (deleted) => {
        if (deleted > 0) log.info({ deleted, retention_days: days }, 'old audit records deleted');
      },
      (err: unknown) => log.warn({ err: String(err) }, 'audit retention sweep failed'),
    );
  if (days <= 0) return { stop() {} };
  void sweep();
  const timer = setInterval(sweep, RETENTION_SWEEP_MS).unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
