import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyInstance } from 'fastify';

/**
 * The response header naming the replicas of a PostgreSQL cluster that did not acknowledge the
 * change a management call made within `cluster_ack_timeout_ms` (comma-separated `host-pid`
 * names). Absent when every live replica applied it.
 */
export const UNACKNOWLEDGED_HEADER = 'x-modelgate-unacknowledged-replicas';

/** What one management request learned about replicas that did not acknowledge its changes. */
interface ReplicaReport {
  readonly requestId: string;
  readonly names: Set<string>;
}

const reports = new AsyncLocalStorage<ReplicaReport>();

/**
 * Notes replicas that did not acknowledge a change made by the current management request, if
 * any (the cluster's waiter runs inside the request's async context).
 *
 * @returns the request's id, for the audit record; undefined outside a management request (a
 * change made at start, say).
 */
export function reportUnacknowledged(names: readonly string[]): string | undefined {
  const report = reports.getStore();
  if (!report) return undefined;
  for (const name of names) report.names.add(name);
  return report.requestId;
}

/** Every management request runs with a report; its names become {@link UNACKNOWLEDGED_HEADER}. */
export function installReplicaReport(app: FastifyInstance): void {
  const byRequest = new WeakMap<object, ReplicaReport>();
  app.addHook('preHandler', (req, _reply, done) => {
    const report: ReplicaReport = { requestId: req.id, names: new Set() };
    byRequest.set(req, report);
    reports.run(report, done);
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const report = byRequest.get(req);
    if (report && report.names.size > 0) reply.header(UNACKNOWLEDGED_HEADER, [...report.names].join(', '));
    return payload;
  });
}
