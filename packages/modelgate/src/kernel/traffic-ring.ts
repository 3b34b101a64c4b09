/**
 * The last hour of one node's traffic per deployment, minute by minute, in memory (issue 19: the
 * console's chart). Recording is O(1) and allocates only when a deployment's minute starts: a
 * counter, a refusal count by reason and a latency histogram of fixed log-scale buckets (about
 * 19 % apart), from which p50 and p99 are read. Pure: the caller gives the clock.
 */

const MINUTE_MS = 60_000;
/** Minutes kept: the last hour. */
export const TRAFFIC_MINUTES = 60;
/** Latency buckets: bucket i holds durations up to BASE_MS * 2^(i/STEPS) ms; the last one, the rest. */
const BASE_MS = 0.1;
const STEPS = 4;
const BUCKETS = 80;
/** Deployments tracked at most (names come from the route table, so this is only a backstop). */
const MAX_DEPLOYMENTS = 10_000;

class Minute {
  requests = 0;
  readonly refused = new Map<string, number>();
  readonly latency = new Uint32Array(BUCKETS);
  constructor(public index: number) {}

  reset(index: number): void {
    this.index = index;
    this.requests = 0;
    this.refused.clear();
    this.latency.fill(0);
  }
}

/** One minute of a deployment's traffic, as the management API answers it. */
export interface TrafficMinute {
  /** ISO-8601 start of the minute. */
  readonly start: string;
  readonly requests: number;
  /** Requests not served by the model, by reason (`missing`, `unknown`, `forbidden`, `unavailable`, ...). */
  readonly refused: Readonly<Record<string, number>>;
  /** Median and 99th percentile of the gateway's whole answer time, in ms (upper bucket bound); null without requests. */
  readonly p50_ms: number | null;
  readonly p99_ms: number | null;
}

function bucketOf(ms: number): number {
  if (!(ms > BASE_MS)) return 0;
  const i = Math.ceil(Math.log2(ms / BASE_MS) * STEPS);
  return i < BUCKETS ? i : BUCKETS - 1;
}

function boundOf(bucket: number): number {
  return Math.round(BASE_MS * 2 ** (bucket / STEPS) * 100) / 100;
}

function percentile(latency: Uint32Array, total: number, q: number): number | null {
  if (total === 0) return null;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += latency[i]!;
    if (seen >= rank) return boundOf(i);
  }
  return boundOf(BUCKETS - 1);
}

/**
 * Per-deployment rings of the last {@link TRAFFIC_MINUTES} minutes.
 *
 * @example
 * ```ts
 * const traffic = new TrafficRing();
 * traffic.record('sentiment', undefined, 12.5, Date.now());
 * traffic.record('sentiment', 'missing', 0.4, Date.now());
 * traffic.lastHour('sentiment', Date.now()).at(-1); // { requests: 2, refused: { missing: 1 }, p50_ms: 0.42, ... }
 * ```
 */
export class TrafficRing {
  private readonly rings = new Map<string, (Minute | undefined)[]>();

  /**
   * Counts one finished request of a deployment.
   * @param refusal why it was not served by the model, or undefined when it was
   * @param durationMs the gateway's answer time
   * @param nowMs the wall clock (ms since the epoch)
   */
  record(deployment: string, refusal: string | undefined, durationMs: number, nowMs: number): void {
    let ring = this.rings.get(deployment);
    if (ring === undefined) {
      if (this.rings.size >= MAX_DEPLOYMENTS) return;
      ring = new Array<Minute | undefined>(TRAFFIC_MINUTES);
      this.rings.set(deployment, ring);
    }
    const index = Math.floor(nowMs / MINUTE_MS);
    const slot = index % TRAFFIC_MINUTES;
    let minute = ring[slot];
    if (minute === undefined) ring[slot] = minute = new Minute(index);
    else if (minute.index !== index) minute.reset(index);
    minute.requests++;
    if (refusal !== undefined) minute.refused.set(refusal, (minute.refused.get(refusal) ?? 0) + 1);
    minute.latency[bucketOf(durationMs)]!++;
  }

  /** The deployment's last hour, oldest minute first, one entry per minute (empty ones included). */
  lastHour(deployment: string, nowMs: number): TrafficMinute[] {
    const ring = this.rings.get(deployment);
    const last = Math.floor(nowMs / MINUTE_MS);
    const minutes: TrafficMinute[] = [];
    for (let index = last - TRAFFIC_MINUTES + 1; index <= last; index++) {
      const m = ring?.[index % TRAFFIC_MINUTES];
      const live = m !== undefined && m.index === index;
      minutes.push({
        start: new Date(index * MINUTE_MS).toISOString(),
        requests: live ? m.requests : 0,
        refused: live ? Object.fromEntries(m.refused) : {},
        p50_ms: live ? percentile(m.latency, m.requests, 0.5) : null,
        p99_ms: live ? percentile(m.latency, m.requests, 0.99) : null,
      });
    }
    return minutes;
  }
}
