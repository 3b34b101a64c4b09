import type { Metric, Registry } from 'prom-client';

/** One sample of a family: its labels and value (`metricName` for `_bucket`, `_sum`, `_count`). */
export interface Sample {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

export interface FamilyDefinition {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** Called at scrape time only: reads the numbers the hot path kept and names them. */
  readonly samples: () => Sample[] | Promise<Sample[]>;
}

/**
 * Registers a metric family whose samples are produced at scrape time from plain numbers the
 * request path keeps itself (typed arrays indexed by precomputed positions). prom-client's own
 * children hash their labels into a string and allocate on every `inc`/`observe`; this costs
 * nothing per request. The family has prom-client's JSON shape (`sum` aggregator), so
 * `AggregatorRegistry.aggregate` adds up the families of several worker processes.
 *
 * @example
 * ```ts
 * const hits = new Float64Array(1);
 * registerFamily(registry, { name: 'x_total', help: 'X', type: 'counter', samples: () => [{ labels: {}, value: hits[0]! }] });
 * ```
 */
export function registerFamily(registry: Registry, definition: FamilyDefinition): void {
  const family = {
    name: definition.name,
    help: definition.help,
    type: definition.type,
    aggregator: 'sum' as const,
    collect() {},
    get: async () => ({
      name: definition.name,
      help: definition.help,
      type: definition.type,
      aggregator: 'sum' as const,
      values: await definition.samples(),
    }),
  };
  registry.registerMetric(family as unknown as Metric);
}

/**
 * Bucket counts of one histogram series: a search over a few bounds and three number writes per
 * observation, no allocation.
 */
export class HistogramData {
  /** Non-cumulative counts; the last one is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The Prometheus samples (`_bucket` cumulative with `le`, `_sum`, `_count`) under `labels`. */
  samples(name: string, labels: Readonly<Record<string, string>>, into: Sample[]): void {
    let cumulative = 0;
    for (let i = 0; i < this.counts.length; i++) {
      cumulative += this.counts[i]!;
      const le = i < this.bounds.length ? this.bounds[i]! : '+Inf';
      into.push({ labels: { ...labels, le }, value: cumulative, metricName: `${name}_bucket` });
    }
    into.push({ labels, value: this.sum, metricName: `${name}_sum` });
    into.push({ labels, value: this.count, metricName: `${name}_count` });
  }
}
