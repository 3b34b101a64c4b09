import type { Registry } from 'prom-client';
import { HistogramData, registerFamily, type Sample } from '../http/metric-family.js';
import { DENIAL_REASONS, type DenialReason } from '../kernel/denial.js';
import { PRINCIPAL_KINDS, type PrincipalKind } from '../kernel/principal.js';
import { OUTCOMES, type Outcome } from './outcome.js';

/** The `deployment` label of requests no known deployment took (no such name, a bad path, ...). */
export const UNKNOWN_DEPLOYMENT = '_unknown';

/** Seconds; from a cache-hit gateway hop to a long LLM stream. */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
] as const;

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

const OUTCOME_INDEX = indexOf(OUTCOMES);
const REASON_INDEX = indexOf(DENIAL_REASONS);
const KIND_INDEX = indexOf(PRINCIPAL_KINDS);

/**
 * The counters and histograms of one deployment: plain numbers at fixed positions, resolved once
 * per deployment and reused by every request (no label object, no label string per request).
 */
export class DeploymentSeries {
  readonly requests = new Float64Array(OUTCOMES.length * STATUS_CLASSES.length);
  readonly denials = new Float64Array(DENIAL_REASONS.length);
  readonly credentials = new Float64Array(PRINCIPAL_KINDS.length);
  readonly duration = new HistogramData(DURATION_BUCKETS);
  readonly upstreamDuration = new HistogramData(DURATION_BUCKETS);

  constructor(readonly deployment: string) {}

  /** One finished request: its outcome, status and duration in seconds. */
  request(outcome: Outcome, status: number, seconds: number): void {
    this.requests[OUTCOME_INDEX[outcome]! * STATUS_CLASSES.length + statusClassIndex(status)]! += 1;
    this.duration.observe(seconds);
  }

  denied(reason: DenialReason): void {
    this.denials[REASON_INDEX[reason]!]! += 1;
  }

  /** An admitted request, by the kind of credential that opened it. */
  credential(kind: PrincipalKind): void {
    this.credentials[KIND_INDEX[kind]!]! += 1;
  }
}

/** Gauges read at scrape time from the data plane's own state. */
export interface GatewayGauges {
  /** Open client connections on the inference listener. */
  connections(): Promise<number>;
  /** Proxied HTTP exchanges in flight (a streamed answer stays open until its end). */
  httpStreams(): number;
  /** Open WebSocket relays. */
  webSockets(): number;
}

/**
 * The data plane's Prometheus metrics (X6). Label values are bounded: `deployment` is the name of
 * a deployment the route table knows (anything else is `_unknown`), the others come from closed
 * sets (outcome, status class, denial reason, credential kind). Never a path, a query, a key.
 *
 * @example
 * ```ts
 * const metrics = new GatewayMetrics(registry, gauges);
 * metrics.series('demo').request('allowed', 200, 0.012);
 * ```
 */
export class GatewayMetrics {
  readonly unknown = new DeploymentSeries(UNKNOWN_DEPLOYMENT);
  readonly #byName = new Map<string, DeploymentSeries>();

  constructor(registry: Registry, gauges: GatewayGauges) {
    registerFamily(registry, {
      name: 'modelgate_requests_total',
      help: 'Data-plane requests by deployment, status class and outcome',
      type: 'counter',
      samples: () =>
        this.#collect((s, out) => {
          for (let o = 0; o < OUTCOMES.length; o++) {
            for (let c = 0; c < STATUS_CLASSES.length; c++) {
              const value = s.requests[o * STATUS_CLASSES.length + c]!;
              if (value > 0) {
                out.push({
                  labels: { deployment: s.deployment, status_class: STATUS_CLASSES[c]!, outcome: OUTCOMES[o]! },
                  value,
                });
              }
            }
          }
        }),
    });
    registerFamily(registry, {
      name: 'modelgate_request_duration_seconds',
      help: 'Time from the request to the end of its answer, by deployment',
      type: 'histogram',
      samples: () =>
        this.#collect((s, out) => {
          if (s.duration.count > 0)
            s.duration.samples('modelgate_request_duration_seconds', { deployment: s.deployment }, out);
        }),
    });
    registerFamily(registry, {
      name: 'modelgate_upstream_duration_seconds',
      help: "Time from forwarding a request to the upstream's response head (time to first byte), by deployment",
      type: 'histogram',
      samples: () =>
        this.#collect((s, out) => {
          if (s.upstreamDuration.count > 0) {
            s.upstreamDuration.samples('modelgate_upstream_duration_seconds', { deployment: s.deployment }, out);
          }
        }),
    });
    registerFamily(registry, {
      name: 'modelgate_auth_denials_total',
      help: 'Requests refused by authentication or authorization, by deployment and reason',
      type: 'counter',
      samples: () =>
        this.#collect((s, out) => {
          for (let r = 0; r < DENIAL_REASONS.length; r++) {
            const value = s.denials[r]!;
            if (value > 0) out.push({ labels: { deployment: s.deployment, reason: DENIAL_REASONS[r]! }, value });
          }
        }),
    });
    registerFamily(registry, {
      name: 'modelgate_credential_requests_total',
      help: 'Admitted requests by deployment and kind of credential (none: a public deployment)',
      type: 'counter',
      samples: () =>
        this.#collect((s, out) => {
          for (let k = 0; k < PRINCIPAL_KINDS.length; k++) {
            const value = s.credentials[k]!;
            if (value > 0)
              out.push({
                labels: { deployment: s.deployment, credential_kind: kindLabel(PRINCIPAL_KINDS[k]!) },
                value,
              });
          }
        }),
    });
    registerFamily(registry, {
      name: 'modelgate_active_connections',
      help: 'Open client connections on the inference listener',
      type: 'gauge',
      samples: async () => [{ labels: {}, value: await gauges.connections() }],
    });
    registerFamily(registry, {
      name: 'modelgate_open_streams',
      help: 'Proxied exchanges in flight (kind="http", streamed answers included) and open WebSocket relays',
      type: 'gauge',
      samples: () => [
        { labels: { kind: 'http' }, value: gauges.httpStreams() },
        { labels: { kind: 'websocket' }, value: gauges.webSockets() },
      ],
    });
  }

  /** The series of a deployment the route table knows; created on its first request. */
  series(deployment: string): DeploymentSeries {
    let series = this.#byName.get(deployment);
    if (series === undefined) {
      series = new DeploymentSeries(deployment);
      this.#byName.set(deployment, series);
    }
    return series;
  }

  /** Drops a deleted deployment's series, so label values stay bounded by live deployments. */
  forget(deployment: string): void {
    this.#byName.delete(deployment);
  }

  #collect(add: (series: DeploymentSeries, out: Sample[]) => void): Sample[] {
    const out: Sample[] = [];
    add(this.unknown, out);
    for (const series of this.#byName.values()) add(series, out);
    return out;
  }
}

/** The 0-based index of a status class (1xx → 0 ... 5xx → 4); anything else counts as 5xx. */
export function statusClassIndex(status: number): number {
  const index = ((status / 100) | 0) - 1;
  return index >= 0 && index < STATUS_CLASSES.length ? index : STATUS_CLASSES.length - 1;
}

function kindLabel(kind: PrincipalKind): string {
  return kind === 'anonymous' ? 'none' : kind;
}

function indexOf<T extends string>(values: readonly T[]): Readonly<Record<T, number>> {
  return Object.fromEntries(values.map((v, i) => [v, i])) as Record<T, number>;
}
