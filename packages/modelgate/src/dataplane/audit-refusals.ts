import type { ClientAddress } from '../http/client-address.js';
import type { RequestHead } from '../http/request-head.js';
import { ERROR_CODES, type ErrorCode } from '../kernel/errors.js';
import type { Principal } from '../kernel/principal.js';
import { type AuditRecord, actorOf, isRefusal } from '../store/audit-record.js';

/** What the gateway knows about a refusal: its code and, once routed, the deployment. */
export interface RefusalInfo {
  readonly code: ErrorCode;
  readonly deployment?: string | undefined;
  /** The verified caller, when the refusal came after its credential was proven. */
  readonly caller?: Principal | undefined;
}

/** Called by the gateway for every refused request; cheap, never throws, never waits. */
export type RefusalRecorder = (req: RequestHead, refusal: RefusalInfo, requestId: string) => void;

/** Where refusal records go: the node's `AuditWriter`, or in a worker a relay to the primary's. */
export interface RefusalSink {
  refusal(record: AuditRecord): void;
}

/**
 * Records data-plane refusals (401/403/429 on a known deployment) through the writer's rate
 * bound. The actor is the verified caller when the refusal came after its credential was proven
 * (a key for another deployment, an owner without the right), else `anonymous`; the credential
 * itself is never read.
 */
export function dataPlaneRecorder(writer: RefusalSink, clientAddress: ClientAddress): RefusalRecorder {
  return (req, refusal, requestId) => {
    const status = ERROR_CODES[refusal.code].status;
    if (!isRefusal(status) || refusal.deployment === undefined) return;
    writer.refusal({
      time: new Date().toISOString(),
      ...(refusal.caller ? actorOf(refusal.caller) : { actor: 'anonymous', actor_kind: 'anonymous' }),
      action: 'deployment.invoke',
      target_kind: 'deployment',
      target_name: refusal.deployment,
      outcome: 'denied',
      status,
      code: refusal.code,
      request_id: requestId,
      client_address: clientAddress(req) || null,
      listener: 'inference',
    });
  };
}
