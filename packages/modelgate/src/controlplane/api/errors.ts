import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, type ErrorCode, errorBody, ModelgateError } from '../../kernel/errors.js';
import type { RouteMethods } from './method-not-allowed.js';
import { validationProblems } from './validation-problems.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The registry code of the error this request was answered with, as data (the audit log reads it). */
    errorCode: ErrorCode | null;
  }
}

/**
 * Answers with the one error body, and keeps its code on the request: every error answer of the
 * management listener goes out through here.
 */
export function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message?: string,
  details?: readonly string[],
  field?: string,
): FastifyReply {
  req.errorCode = code;
  return reply.code(status).send(errorBody(code, req.id, message, details, field));
}

/**
 * Maps every failure to the one error body; bugs become INTERNAL and are logged, never echoed.
 * A path some route takes with another method is 405 with `Allow`; an unknown path is 404.
 */
export function installErrorHandling(app: FastifyInstance, routes: RouteMethods): void {
  app.decorateRequest('errorCode', null);
  app.setNotFoundHandler((req, reply) => {
    const allowed = routes.allowed(req.url);
    if (allowed.length === 0) return sendError(req, reply, 404, 'ROUTE_NOT_FOUND');
    reply.header('allow', allowed.join(', '));
    return sendError(
      req,
      reply,
      405,
      'METHOD_NOT_ALLOWED',
      `${req.method} is not allowed here; use ${allowed.join(', ')}`,
    );
  });
  app.setErrorHandler((err: FastifyError | ModelgateError, req, reply) => {
    if (err instanceof ModelgateError) {
      if (err.headers) reply.headers(err.headers);
      return sendError(req, reply, err.status, err.code, err.message, err.details, err.field);
    }
    if (err.validation) {
      // Every problem in `details`; the first names `field` and the message.
      const problems = validationProblems(err.validationContext, err.validation);
      const details = problems.map((p) => p.text);
      const message = `Invalid request: ${details.join('; ')}`;
      // A problem with the whole part (a missing body) names no field.
      const field = problems[0]?.field || undefined;
      return sendError(req, reply, 400, 'VALIDATION_FAILED', message, details, field);
    }
    const mapped = mapFastifyError(err);
    if (mapped) return sendError(req, reply, ERROR_CODES[mapped].status, mapped);
    req.log.error({ err }, 'unhandled error');
    return sendError(req, reply, 500, 'INTERNAL');
  });
}

/**
 * Replaces fastify's JSON parser with one that reads an empty body as no body, so a POST that
 * takes none may still say `Content-Type: application/json` (as many clients always do); a route
 * that needs a body then fails validation naming it. Prototype poisoning stays refused.
 */
export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    return parseJson(req, text, done);
  });
}

function mapFastifyError(err: FastifyError): ErrorCode | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'PAYLOAD_TOO_LARGE';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'BAD_REQUEST';
    default:
      if (err.statusCode === 400 || err instanceof SyntaxError) return 'BAD_REQUEST';
      if (err.statusCode === 413) return 'PAYLOAD_TOO_LARGE';
      if (err.statusCode === 415) return 'UNSUPPORTED_MEDIA_TYPE';
      return undefined;
  }
}
