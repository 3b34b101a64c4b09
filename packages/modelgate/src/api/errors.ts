import type { FastifyError, FastifyInstance } from 'fastify';
import { ERROR_CODES, type ErrorCode, errorBody, ModelgateError } from '../errors/registry.js';

/** Maps every failure to the one error body; bugs become INTERNAL and are logged, never echoed. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('ROUTE_NOT_FOUND', req.id));
  });
  app.setErrorHandler((err: FastifyError | ModelgateError, req, reply) => {
    if (err instanceof ModelgateError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.status).send(errorBody(err.code, req.id, err.message, err.details));
    }
    const mapped = mapFastifyError(err);
    if (mapped) {
      const details = err.validation
        ? err.validation.map((v) => `${v.instancePath || '/'} ${v.message ?? ''}`.trim())
        : undefined;
      return reply.code(ERROR_CODES[mapped].status).send(errorBody(mapped, req.id, undefined, details));
    }
    req.log.error({ err }, 'unhandled error');
    return reply.code(500).send(errorBody('INTERNAL', req.id));
  });
}

function mapFastifyError(err: FastifyError): ErrorCode | undefined {
  if (err.validation) return 'VALIDATION_FAILED';
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
