import type { ServerResponse } from 'node:http';
import type { AccessFields, AccessLog } from '../../http/access-log.js';
import type { ClientAddress } from '../../http/client-address.js';
import type { RequestHead } from '../../http/request-head.js';
import type { DenialReason } from '../../kernel/denial.js';
import type { ErrorCode } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/principal.js';
import type { TrafficRing } from '../../kernel/traffic-ring.js';
import type { Admitted, Refusal } from '../admission-result.js';
import type { DeploymentSeries, GatewayMetrics } from '../metrics.js';
import { outcomeOf, proxyErrorCode } from '../outcome.js';
import type { ExchangeStats } from '../proxy.js';
import type { UsageRecorder } from '../usage-recorder.js';

/** nginx's status for a request whose caller closed the connection before any answer. */
export const CLIENT_CLOSED_REQUEST = 499;

/**
 * Everything one data-plane request leaves behind (its access line, its metrics, the usage of
 * its credential), filled in as it goes: by the gateway (route, principal, refusal), by the proxy
 * (`ExchangeStats`) and when the response closes. One object per request, no other allocation.
 */
export class RequestRecord implements ExchangeStats, AccessFields {
  readonly method: string | undefined;
  readonly url: string;
  /** `performance.now()` when the request arrived. */
  readonly started: number;
  deployment: string | undefined = undefined;
  /** The deployment's metric series (the `_unknown` one until routing found a known deployment). */
  series: DeploymentSeries | undefined;
  /** The admitted principal (undefined while not admitted, or when refused). */
  admittedAs: Principal | undefined = undefined;
  principal: string | undefined = undefined;
  code: ErrorCode | undefined = undefined;
  /** Why authentication or authorization refused it. */
  reason: DenialReason | undefined = undefined;
  remote: string | undefined = undefined;
  upstreamStatus = 0;
  upstreamMs = -1;
  bytesIn = 0;
  bytesOut = 0;
  status = 0;
  durationMs = 0;
  aborted = false;

  constructor(
    readonly requestId: string,
    readonly req: RequestHead,
    series: DeploymentSeries | undefined,
  ) {
    this.method = req.method;
    this.url = req.url ?? '/';
    this.started = performance.now();
    this.series = series;
  }
}

/** Where finished requests are reported. */
export interface RequestObservers {
  readonly access: AccessLog;
  readonly clientAddress: ClientAddress;
  readonly metrics?: GatewayMetrics | undefined;
  readonly usage?: UsageRecorder | undefined;
  /** The last hour per deployment, for the console's chart. */
  readonly traffic?: TrafficRing | undefined;
}

/**
 * Called once the response closed (finished, or cut because the caller left): completes the
 * record, then writes the access line, the metrics and the credential's usage (`finishRecord`).
 */
export function finishRequest(
  observers: RequestObservers,
  req: RequestHead,
  res: ServerResponse,
  record: RequestRecord,
): void {
  const aborted = !res.writableFinished;
  finishRecord(observers, req, record, aborted && !res.headersSent ? CLIENT_CLOSED_REQUEST : res.statusCode, aborted);
}

/**
 * Completes a record with the status its caller got and whether the caller left before the
 * answer was complete, then writes the access line, the metrics and the credential's usage: for
 * a response (`finishRequest`) and for a WebSocket handshake alike. Only numbers and fixed
 * strings are touched here; the line is built only when the log level wants it.
 */
export function finishRecord(
  observers: RequestObservers,
  req: RequestHead,
  record: RequestRecord,
  status: number,
  aborted: boolean,
): void {
  record.aborted = aborted;
  record.status = status;
  record.durationMs = performance.now() - record.started;
  const admitted = record.admittedAs;
  if (admitted !== undefined && record.upstreamStatus === 0 && record.code === undefined && !aborted) {
    record.code = proxyErrorCode(record.status);
  }
  // Set early where the socket may be gone by now (a refused oversized sign-in form).
  record.remote ??= observers.clientAddress(req);
  observers.access(record);
  const outcome = outcomeOf(aborted, record.upstreamStatus > 0, record.code, record.reason !== undefined);
  if (record.deployment !== undefined) {
    const refusal = outcome === 'allowed' || outcome === 'aborted' ? undefined : (record.reason ?? outcome);
    observers.traffic?.record(record.deployment, refusal, record.durationMs, Date.now());
  }
  const series = record.series;
  if (series !== undefined) {
    series.request(outcome, record.status, record.durationMs / 1000);
    if (record.upstreamMs >= 0) series.upstreamDuration.observe(record.upstreamMs / 1000);
    if (record.reason !== undefined) series.denied(record.reason);
    if (admitted !== undefined) series.credential(admitted.kind);
  }
  if (admitted !== undefined)
    observers.usage?.record(admitted.kind, admitted.id, performance.timeOrigin + record.started);
}

/**
 * The observe stage of one gateway: starts a request's record (its access line, metrics and
 * usage are written when the response closes) and notes on it where admission ended.
 *
 * @example
 * ```ts
 * const observation = createObservation(observers);
 * const record = observation.start(req, res, requestId);
 * observation.admitted(record, admitted); // or observation.refused(record, refusal)
 * ```
 */
export function createObservation(observers: RequestObservers) {
  const metrics = observers.metrics;
  const unknownSeries = metrics?.unknown;

  /**
   * `close` of a data-plane response. One shared listener (`this` is the response) reading the
   * record left on the response, not a closure per request.
   */
  function onRecordedClose(this: RecordedResponse): void {
    const record = this[RECORD];
    if (record !== undefined) finishRequest(observers, record.req, this, record);
  }

  /** Names the deployment a request reached (known to the route table: a bounded label). */
  function reached(record: RequestRecord, deployment: string | undefined): void {
    if (deployment === undefined) return;
    record.deployment = deployment;
    if (metrics) record.series = metrics.series(deployment);
  }

  return {
    /** A record that is completed by hand (a WebSocket handshake: when its socket closes). */
    record: (req: RequestHead, id: string): RequestRecord => new RequestRecord(id, req, unknownSeries),

    /** Starts the record of a request; its access line, metrics and usage are written on close. */
    start(req: RequestHead, res: ServerResponse, id: string): RequestRecord {
      const record = new RequestRecord(id, req, unknownSeries);
      (res as RecordedResponse)[RECORD] = record;
      res.on('close', onRecordedClose);
      return record;
    },

    /** Notes a refusal: the deployment (once routing found it), the code and the reason. */
    refused(record: RequestRecord, refusal: Refusal): void {
      reached(record, refusal.deployment);
      record.code = refusal.code;
      record.reason = refusal.reason;
    },

    /** Notes an admission: the deployment and the principal (its label `kind:id`, none when anonymous). */
    admitted(record: RequestRecord, admitted: Admitted): void {
      const principal = admitted.principal;
      reached(record, admitted.route.snapshot.name);
      record.admittedAs = principal;
      record.principal = principal.kind === 'anonymous' ? undefined : `${principal.kind}:${principal.id}`;
    },
  };
}

/** The observe stage of one gateway. */
export type Observation = ReturnType<typeof createObservation>;

/** The record of a data-plane request, left on its response for the shared `close` listener. */
const RECORD = Symbol('modelgate.record');
type RecordedResponse = ServerResponse & { [RECORD]?: RequestRecord };
