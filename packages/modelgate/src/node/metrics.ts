import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { answerHealth, type Readiness } from '../http/health.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../http/request-id.js';
import { sendError } from '../http/respond.js';
import type { Logger } from '../log/logger.js';

/** A registry's metrics as JSON (`Registry.getMetricsAsJSON()`): what a worker sends the primary. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * A registry per process (so tests can run several nodes in one process), with the standard
 * process and Node.js metrics under their usual unprefixed names (`process_cpu_seconds_total`,
 * `nodejs_eventloop_lag_seconds`, ...), so stock Node.js dashboards work unchanged.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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

/**
 * `modelgate_redis_up`: 1 while the node's Redis link (`redis_url`) is up, 0 while it counts
 * locally. Registered only when `redis_url` is set; read from the link at scrape time.
 */
export function registerRedisUp(registry: Registry, up: () => boolean): void {
  new Gauge({
    name: 'modelgate_redis_up',
    help: 'Whether Redis (redis_url) answers: 1 counters are shared across replicas, 0 counted in this replica',
    registers: [registry],
    collect() {
      this.set(up() ? 1 : 0);
    },
  });
}

/**
 * What the metrics listener serves: this process's registry and, in a multi-process node, the
 * registries of the workers, added up into one node-wide view (counters and histograms summed,
 * process gauges summed, event-loop lag averaged: prom-client's aggregators).
 *
 * @example
 * ```ts
 * const metrics = new NodeMetrics(createMetricsRegistry());
 * metrics.addSource(() => askWorkersForTheirMetrics()); // in the primary of a multi-process node
 * const text = await metrics.render();
 * ```
 */
export class NodeMetrics {
  readonly #sources: (() => Promise<MetricsJson[]>)[] = [];

  constructor(readonly registry: Registry) {}

  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;

  /** Adds other processes' metrics (each call returns one JSON list per process). */
  addSource(source: () => Promise<MetricsJson[]>): void {
    this.#sources.push(source);
  }

  /** The Prometheus text of the whole node. */
  async render(): Promise<string> {
    if (this.#sources.length === 0) return this.registry.metrics();
    const own = await this.registry.getMetricsAsJSON();
    const others = (await Promise.all(this.#sources.map((source) => source()))).flat();
    const all = [own, ...others];
    for (const list of all) {
      for (const metric of list) {
        // prom-client omits the start time when aggregating; the node started when its first process did.
        if (metric.name === 'process_start_time_seconds') metric.aggregator = 'min';
      }
    }
    return AggregatorRegistry.aggregate(all).metrics();
  }
}

/** The metrics listener: Prometheus text at `/metrics`, plus the health routes. */
export function metricsHandler(metrics: NodeMetrics, readiness: Readiness, log: Logger) {
  const listenerLog = log.child({ listener: 'metrics' });
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const id = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, id);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, 'METHOD_NOT_ALLOWED', id);
      return;
    }
    if (path === '/metrics') {
      let text: string;
      try {
        text = await metrics.render();
      } catch (err) {
        listenerLog.warn({ err: String(err), request_id: id }, 'metrics scrape failed');
        sendError(res, 'NOT_READY', id, { message: 'The metrics cannot be collected right now' });
        return;
      }
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return;
    }
    if (await answerHealth(path ?? '/', res, id, readiness)) return;
    sendError(res, 'ROUTE_NOT_FOUND', id);
  };
}
