import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { ErrorCode } from '../../kernel/errors.js';
import type { Principal } from '../../kernel/principal.js';
import { insertAuditRecords } from '../../store/audit.js';
import { type AuditOutcome, type AuditRecord, actorOf, isRefusal, outcomeOf } from '../../store/audit-record.js';
import { withCommitRider } from '../../store/transaction.js';
import { isHiddenDenial } from '../access/authorize.js';
import { actionParams, describeAction } from '../audit/action.js';
import { AuditIntent } from '../audit/intent.js';
import type { AuditWriter } from '../audit/writer.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A change whatever its method (minting a credential by GET, `/token`), and recorded even on a
     * public route (sign-in). Unset: every method but GET/HEAD is a change, and public routes are
     * not recorded.
     */
    change?: boolean;
  }
  interface FastifyRequest {
    /**
     * Set by a route that answers 404 for a target the caller may not read, so the audit log
     * records a denial while the response stays identical to "does not exist".
     */
    auditHidden?: boolean;
    /** Who the change was made as, when not the request's principal (a sign-in: the user it signed in). */
    auditActor: Principal | null;
    /** The target's name, when the route learned it itself (a failed sign-in to an existing user). */
    auditTarget: string | null;
  }
}

/** Whether a route's requests are changes: its `change` flag, else any method but GET/HEAD. */
export function isChange(method: string, change: boolean | undefined): boolean {
  return change ?? (method !== 'GET' && method !== 'HEAD');
}

/** The one 2xx status a route's schema declares (what an allowed change answers), if exactly one. */
export function successStatus(schema: FastifySchema | undefined): number | undefined {
  const declared = Object.keys((schema?.response as Record<string, unknown> | undefined) ?? {}).filter((s) =>
    /^2\d\d$/.test(s),
  );
  return declared.length === 1 ? Number(declared[0]) : undefined;
}

const CHANGE_ROUTES = new WeakMap<FastifyInstance, string[]>();

/**
 * The routes `installAuditLog` records as changes on this app (`POST /api/v1/deployments`, ...),
 * for tests that hold every one of them to the audit rule.
 */
export function changeRoutesOf(app: FastifyInstance): readonly string[] {
  return CHANGE_ROUTES.get(app) ?? [];
}

/**
 * Records every management change (see {@link isChange}) and every refused attempt (401/403/429,
 * or a 404 the route marked as hiding a target) on any method.
 *
 * A change's allowed record commits with the change: the request runs with an {@link AuditIntent}
 * that the first transaction it commits writes (`withCommitRider`), so a crash cannot keep the
 * change and lose its record, and a rolled-back change leaves no record. A change that writes
 * nothing to the store (a minted JWT, a replaced node key) has its record written before the
 * answer leaves; if that write fails, the answer is an error instead. Refusals and failures go
 * to the batching writer (bounded, and lost on a crash).
 *
 * Records are built from the principal, the route pattern and its parameters, the status and the
 * error code only: never a header, a query value or the body (except the name of a resource just
 * created, which is public from then on, and the target fields `actionParams` names).
 */
export function installAuditLog(
  app: FastifyInstance,
  writer: AuditWriter,
  clientAddress: (req: FastifyRequest) => string = (req) => req.ip,
): void {
  const intents = new WeakMap<FastifyRequest, AuditIntent>();
  app.decorateRequest('auditHidden', false);
  app.decorateRequest('auditActor', null);
  app.decorateRequest('auditTarget', null);
  const changeRoutes: string[] = [];
  CHANGE_ROUTES.set(app, changeRoutes);
  app.addHook('onRoute', (route) => {
    const config = route.config as { auth?: string; change?: boolean } | undefined;
    if (config?.auth === 'public' && config.change !== true) return;
    for (const method of [route.method].flat()) {
      if (isChange(method, config?.change)) changeRoutes.push(`${method} ${route.url}`);
    }
  });

  const recordOf = (req: FastifyRequest, status: number, outcome: AuditOutcome, code: ErrorCode | null) => {
    const pattern = req.routeOptions.url ?? '';
    const created = outcome === 'allowed' ? (req.auditTarget ?? createdName(pattern, req.body)) : req.auditTarget;
    const described = describeAction(
      req.method,
      pattern,
      actionParams(pattern, req.params, req.query, req.body),
      created ?? undefined,
    );
    return {
      time: new Date().toISOString(),
      ...actorOf(req.auditActor ?? req.principal),
      action: described.action,
      target_kind: described.targetKind,
      target_name: described.targetName ?? null,
      outcome,
      status,
      code,
      request_id: req.id,
      client_address: clientAddress(req) || null,
      listener: 'management',
    } satisfies AuditRecord;
  };
  const audited = (req: FastifyRequest): boolean => {
    const config = req.routeOptions.config;
    return req.routeOptions.url !== undefined && (config?.auth !== 'public' || config?.change === true);
  };

  // After authentication and validation: the rest of the request (handler included) runs with
  // its allowed record riding the first transaction it commits.
  app.addHook('preHandler', (req, _reply, done) => {
    if (!audited(req) || !isChange(req.method, req.routeOptions.config?.change)) return done();
    const status = successStatus(req.routeOptions.schema) ?? 200;
    const intent = new AuditIntent(() => recordOf(req, status, 'allowed', null), insertAuditRecords);
    intents.set(req, intent);
    withCommitRider(intent, done);
  });
  // A 404 the permission module used to hide a target is a denied attempt, not a miss.
  app.addHook('onError', async (req, _reply, error) => {
    if (isHiddenDenial(error)) req.auditHidden = true;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const intent = intents.get(req);
    // No transaction wrote the record (the change is outside the store): write it before the
    // answer leaves. A failure here fails the request, so no credential goes out unrecorded.
    if (intent?.close() && reply.statusCode < 400) {
      await writer.commit(recordOf(req, reply.statusCode, 'allowed', null));
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!audited(req)) return;
    const status = reply.statusCode;
    const hidden = req.auditHidden === true;
    const outcome = outcomeOf(status, hidden);
    // An allowed change was recorded with its commit, or before the answer.
    if (outcome === 'allowed' && intents.has(req)) return;
    const change = isChange(req.method, req.routeOptions.config?.change);
    if (!change && !isRefusal(status) && !(hidden && status === 404)) return;
    writer.record(recordOf(req, status, outcome, outcome === 'allowed' ? null : (req.errorCode ?? null)));
  });
}

/** The body field naming a resource just created (checked again by `safeName`), if any. */
function createdName(pattern: string, body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const fields = body as Record<string, unknown>;
  // A version is named by `version`; elsewhere `version` refers to another resource (API keys).
  const value = pattern.endsWith('/versions') ? fields.version : (fields.name ?? fields.username);
  return typeof value === 'string' ? value : undefined;
}
