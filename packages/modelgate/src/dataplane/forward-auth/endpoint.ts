import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientAddress } from '../../http/client-address.js';
import type { AdmissionPipeline } from '../admission.js';
import { type Admitted, isRefusal, type Refusal } from '../admission-result.js';
import type { RefusalRecorder } from '../audit-refusals.js';
import type { Observation, RequestRecord } from '../stages/observe.js';
import { allow, refuse } from './answer.js';
import { type DecisionTarget, describeOriginal } from './contracts.js';

/** What the decision endpoints need of the gateway. */
export interface ForwardAuthContext {
  readonly admission: AdmissionPipeline;
  /** `trusted_proxies`' client address: the original client, from the proxy's `X-Forwarded-For`. */
  readonly clientAddress: ClientAddress;
  /** Whether a peer is in `trusted_proxies`: only those may ask. */
  readonly trustedPeer: (address: string) => boolean;
  /** Seconds a proxy may cache an allowing decision (`forward_auth_cache_s`); 0: never. */
  readonly cacheS: number;
  readonly observation: Observation;
  readonly audit?: RefusalRecorder | undefined;
}

/**
 * The decision endpoints' handler: a trusted proxy's question read into the original request,
 * decided by the gateway's own admission pipeline (so a request is allowed here exactly when the
 * gateway would proxy it), answered in that proxy's contract. The access line, metrics, usage and
 * the audit of a refusal are the original request's, with the original client's address.
 *
 * @example
 * ```ts
 * const decide = createForwardAuth({ admission, clientAddress, trustedPeer, observation, audit });
 * decide(req, res, requestId, { contract: 'nginx' });
 * ```
 */
export function createForwardAuth(ctx: ForwardAuthContext) {
  function answer(
    res: ServerResponse,
    target: DecisionTarget,
    record: RequestRecord,
    outcome: Admitted | Refusal,
  ): void {
    const head = record.req;
    const id = record.requestId;
    if (isRefusal(outcome)) {
      ctx.audit?.(head, outcome, id);
      ctx.observation.refused(record, outcome);
      record.bytesOut = refuse(res, target.contract, outcome, id);
      return;
    }
    ctx.observation.admitted(record, outcome);
    allow(res, head, outcome, record.principal, id, ctx.cacheS);
  }

  return (req: IncomingMessage, res: ServerResponse, id: string, target: DecisionTarget): Promise<void> | void => {
    if (!ctx.trustedPeer(req.socket.remoteAddress ?? '')) {
      const record = ctx.observation.start(req, res, id);
      const message =
        'The decision endpoints answer only proxies listed in trusted_proxies; add this proxy’s address there';
      return answer(res, target, record, { code: 'FORWARD_AUTH_UNTRUSTED', message });
    }
    const head = describeOriginal(req, target, ctx.clientAddress(req));
    if ('code' in head) return answer(res, target, ctx.observation.start(req, res, id), head);
    const record = ctx.observation.start(head, res, id);
    const outcome = ctx.admission.admit(head);
    if (!(outcome instanceof Promise)) return answer(res, target, record, outcome);
    return outcome.then((decided) => answer(res, target, record, decided));
  };
}
