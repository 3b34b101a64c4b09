import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClusterGate } from '../../http/health.js';
import { bearerChallenge, type Denial, denialCode, deny, isDenial } from '../../kernel/denial.js';
import { ModelgateError } from '../../kernel/errors.js';
import { ANONYMOUS, type Principal } from '../../kernel/principal.js';
import { type ManagementRouteClass, mayUseManagementRoute } from '../access/management.js';
import type { ManagementAuthenticator } from '../authenticator.js';
import { CSRF_HEADER, csrfAllowed } from '../sessions/csrf.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which credentials a route takes; `management` when not said. */
    auth?: ManagementRouteClass;
  }
  interface FastifyRequest {
    principal: Principal;
  }
}

export const REALM = 'modelgate';

export interface ManagementAuth {
  /** False when token authorization is disabled: every request is anonymous and allowed. */
  readonly enabled: boolean;
  readonly authenticate: ManagementAuthenticator;
  /**
   * A replica of a PostgreSQL cluster: while it may have missed a revoking change (past its
   * grace), no credential is admitted here either (503 `NOT_READY`, fail closed).
   */
  readonly cluster?: ClusterGate;
}

/**
 * Authenticates every management request before its body is read, and authorizes it against the
 * route's class. Denials become 401/403 with an RFC 6750 challenge; the credential is never echoed.
 */
export function installAuthentication(app: FastifyInstance, auth: ManagementAuth): void {
  // Fastify forbids shared object defaults; every request gets its principal in the hook below.
  app.decorateRequest<Principal>('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    req.principal = ANONYMOUS;
  });
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const route = req.routeOptions.config?.auth ?? (req.routeOptions.url === undefined ? 'public' : 'management');
    if (route === 'public') return;
    if (!auth.enabled) {
      req.principal = ANONYMOUS;
      return;
    }
    if (auth.cluster?.ready() === false) throw new ModelgateError('NOT_READY', auth.cluster.reason());
    const result = await auth.authenticate(req.raw);
    if (isDenial(result)) throw denialError(result);
    // Set before the route check too, so the audit log names who was refused.
    req.principal = result;
    if (!mayUseManagementRoute(result, route)) {
      throw denialError(deny('forbidden', `The ${result.kind.replaceAll('_', ' ')} cannot use this route`));
    }
    if (result.kind === 'user' && result.viaCookie) checkCsrf(req);
  });
}

/** A write authenticated by the session cookie alone must come from this origin (docs/decisions.md). */
function checkCsrf(req: FastifyRequest): void {
  const allowed = csrfAllowed({
    method: req.method,
    origin: req.headers.origin,
    ownOrigin: `${req.protocol}://${req.host}`,
    csrfHeader: req.headers[CSRF_HEADER] as string | undefined,
  });
  if (!allowed) throw new ModelgateError('CSRF_REJECTED');
}

/** The HTTP error for a denial on a Bearer-protected route (429 with `Retry-After` when throttled). */
export function denialError(denial: Denial): ModelgateError {
  const headers: Record<string, string> =
    denial.retryAfter === undefined
      ? { 'www-authenticate': bearerChallenge(REALM, denial.denied) }
      : { 'retry-after': String(denial.retryAfter) };
  return new ModelgateError(denialCode(denial.denied), denial.detail, { headers });
}
