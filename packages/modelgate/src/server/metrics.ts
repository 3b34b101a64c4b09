import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { answerHealth, type Readiness } from './health.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import { sendError } from './respond.js';

/** A registry per node, so tests can run several nodes in one process. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'modelgate_' });
  return registry;
}

/**
 * `modelgate_audit_dropped_total`: audit records not written because the queue was full or
 * data-plane refusals came faster than the audit rate bound. Read from the writer at scrape time.
 */
export function registerAuditDropped(registry: Registry, dropped: () => number): void {
  new Counter({
    name: 'modelgate_audit_dropped_total',
    help: 'Audit records dropped (queue full or data-plane refusal rate exceeded)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(dropped());
    },
  });
}

/** The metrics listener: Prometheus text at `/metrics`, plus the health routes. */
export function metricsHandler(registry: Registry, readiness: Readiness) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const id = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, id);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 'METHOD_NOT_ALLOWED', id);
    if (path === '/metrics') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    if (await answerHealth(path ?? '/', res, id, readiness)) return;
    sendError(res, 'ROUTE_NOT_FOUND', id);
  };
}
