import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isHiddenDenial } from '../access/authorize.js';
import { describeAction } from '../audit/action.js';
import { actorOf, isRefusal, outcomeOf } from '../audit/record.js';
import type { AuditWriter } from '../audit/writer.js';
import { ERROR_CODES, type ErrorCode } from '../errors/registry.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by a route that answers 404 for a target the caller may not read, so the audit log
     * records a denial while the response stays identical to "does not exist".
     */
    auditHidden?: boolean;
  }
}

/**
 * Records, after each management response, every change (any method but GET/HEAD, plus
 * `/token`, which rotates a key on GET too) and every refused attempt (401/403/429, or a 404 the
 * route marked as hiding a target) on any method. Records are built from the principal, the
 * route pattern and its parameters, the status and the error code only: never a header, a query
 * value or the body (except the name of a resource just created, which is public from then on).
 */
export function installAuditLog(
  app: FastifyInstance,
  writer: AuditWriter,
  clientAddress: (req: FastifyRequest) => string = (req) => req.ip,
): void {
  const codes = new WeakMap<FastifyRequest, ErrorCode>();
  app.decorateRequest('auditHidden', false);
  // A 404 the permission module used to hide a target is a denied attempt, not a miss.
  app.addHook('onError', async (req, _reply, error) => {
    if (isHiddenDenial(error)) req.auditHidden = true;
  });
  // The error code is read from our own error body; only a registry code is kept.
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length < 65_536) {
      const code = errorCodeOf(payload);
      if (code) codes.set(req, code);
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const pattern = req.routeOptions.url;
    if (pattern === undefined || req.routeOptions.config?.auth === 'public') return;
    const status = reply.statusCode;
    const hidden = req.auditHidden === true;
    const change = (req.method !== 'GET' && req.method !== 'HEAD') || pattern === '/token';
    if (!change && !isRefusal(status) && !(hidden && status === 404)) return;
    const outcome = outcomeOf(status, hidden);
    const described = describeAction(
      req.method,
      pattern,
      // `/token` names its target in the query (`type`, an enum); no other query value is read.
      ((pattern === '/token' ? { type: (req.query as { type?: unknown }).type } : req.params) ?? {}) as Record<
        string,
        unknown
      >,
      outcome === 'allowed' ? createdName(pattern, req.body) : undefined,
    );
    writer.record({
      time: new Date().toISOString(),
      ...actorOf(req.principal),
      action: described.action,
      target_kind: described.targetKind,
      target_name: described.targetName ?? null,
      outcome,
      status,
      code: outcome === 'allowed' ? null : (codes.get(req) ?? null),
      request_id: req.id,
      client_address: clientAddress(req) || null,
      listener: 'management',
    });
  });
}

function errorCodeOf(payload: string): ErrorCode | undefined {
  try {
    const code = (JSON.parse(payload) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : undefined;
  } catch {
    return undefined;
  }
}

/** The body field naming a resource just created (checked again by `safeName`), if any. */
function createdName(pattern: string, body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const fields = body as Record<string, unknown>;
  // A version is named by `version`; elsewhere `version` refers to another resource (API keys).
  const value = pattern.endsWith('/versions') ? fields.version : (fields.name ?? fields.username);
  return typeof value === 'string' ? value : undefined;
}
