import type { ClusterGate } from '../http/health.js';
import type { RequestHead } from '../http/request-head.js';
import { isBearerToken } from '../kernel/authorization-header.js';
import { deny } from '../kernel/denial.js';
import { type Admission, type Admitted, isRefusal, type Refusal } from './admission-result.js';
import { authenticateBearer, type DataPlaneVerifiers, requiresCredential } from './authenticate.js';
import { browserAnswer } from './browser-answer.js';
import type { Route, RouteTable } from './route-table.js';
import { unavailable } from './stages/availability.js';
import { CookieCredential, credentialOf } from './stages/credential.js';
import { type RateLimitStage, rateLimited } from './stages/rate-limit.js';
import { type Routed, routeRequest } from './stages/route.js';
import { requestShapeRefusal } from './stages/shape.js';
import { type ThrottleStage, throttled } from './stages/throttle.js';

/** What admission needs of the gateway. */
export interface AdmissionContext extends ThrottleStage, RateLimitStage {
  readonly routes: RouteTable;
  readonly verifiers: DataPlaneVerifiers;
  /** `base_domain`: route `<deployment>.<base_domain>` by Host when set. */
  readonly baseDomain: string;
  /** The scheme callers use to reach this listener (the browser cookie's `Secure`). */
  readonly proto: 'http' | 'https';
  /** A replica of a PostgreSQL cluster: no credential is admitted while it is not in step. */
  readonly cluster?: ClusterGate | undefined;
}

/**
 * The data plane's one admission pipeline, its stages in order: request shape → route →
 * availability → credential (verifier and `authorize`) → throttle. Used for proxied requests,
 * WebSocket handshakes and the sign-in form's token, so they can never decide differently.
 * Synchronous whenever memory can decide (a public deployment, a cached credential, a node key,
 * a malformed one): only a credential that needs the store or scrypt makes it a promise.
 *
 * @example
 * ```ts
 * const admission = createAdmission(ctx);
 * const outcome = admission.admit(req); // Admitted, Refusal, or a promise of one
 * ```
 */
export function createAdmission(ctx: AdmissionContext) {
  return {
    admit(req: RequestHead): Admission {
      const shape = requestShapeRefusal(req.method, req.rawHeaders);
      if (shape) return shape;
      const routed = routeRequest(req, ctx.routes, ctx.baseDomain);
      if ('code' in routed) return routed;
      const closed = unavailable(routed.route);
      if (closed) return closed;
      const credential = credentialOf(req, routed, ctx.verifiers, ctx.cluster);
      if (credential instanceof CookieCredential) return admitCookie(req, routed, credential);
      if ('code' in credential) return credential;
      return limited(throttled(credential, req, routed.route, routed.rest, ctx), req);
    },

    /**
     * Verifies `token` (as typed into the sign-in page: it may not even look like a token) for a
     * protected route exactly as a request carrying it as a Bearer header would be, throttle
     * included: undefined when it is accepted.
     */
    async checkToken(req: RequestHead, route: Route, token: string): Promise<Refusal | undefined> {
      if (!requiresCredential(route.snapshot, ctx.verifiers)) return undefined;
      const verification = isBearerToken(token)
        ? authenticateBearer(token, route.snapshot, ctx.verifiers)
        : deny('malformed', 'The token has characters a token cannot have');
      const outcome = await throttled(verification, req, route, '/', ctx);
      return isRefusal(outcome) ? outcome : undefined;
    },
  };

  /** An admitted caller through its rate limits (X3); a refusal stays one. */
  function limited(outcome: Admission, req: RequestHead): Admission {
    if (outcome instanceof Promise) return outcome.then((o) => (isRefusal(o) ? o : rateLimited(o, req, ctx)));
    return isRefusal(outcome) ? outcome : rateLimited(outcome, req, ctx);
  }

  function admitCookie(req: RequestHead, routed: Routed, credential: CookieCredential): Admission {
    const outcome = limited(throttled(credential.verification, req, routed.route, routed.rest, ctx), req);
    const answer = (result: Admitted | Refusal) => browserAnswer(req, result, routed, credential, ctx.proto);
    return outcome instanceof Promise ? outcome.then(answer) : answer(outcome);
  }
}

/** The admission pipeline of one gateway. */
export type AdmissionPipeline = ReturnType<typeof createAdmission>;
