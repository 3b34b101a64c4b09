import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../kernel/principal.js';
import { boundedForLog } from '../../log/loggable-path.js';
import { redactUrl } from '../../log/logger.js';

/**
 * One line per management request, written when the response is sent (`"msg":"request
 * completed"`, at `info`): method, the URL with secret-looking query values redacted, status, the
 * caller (`principal`: `kind:id`, never the credential; absent when nobody was authenticated),
 * the client address and the duration. The request id is bound by fastify under `request_id`
 * (`requestIdLogLabel`), the same spelling as the inference and metrics listeners. An `incoming
 * request` line (method, URL, address) is written when the request arrives, as fastify does, so a
 * request that never completes still left a trace.
 *
 * Replaces fastify's two default lines (`disableRequestLogging`): its completion line cannot name
 * the caller.
 *
 * @example
 * ```ts
 * installRequestLog(app, (req) => req.ip);
 * // {"level":30,...,"listener":"management","request_id":"...","method":"GET","url":"/api/v1/whoami",
 * //  "status":200,"principal":"management_key:node:management","remote":"127.0.0.1","duration_ms":1.2,"msg":"request completed"}
 * ```
 */
export function installRequestLog(app: FastifyInstance, clientAddress: (req: FastifyRequest) => string): void {
  app.addHook('onRequest', async (req) => {
    req.log.info({ req }, 'incoming request');
  });
  app.addHook('onResponse', async (req, reply) => {
    const principal = principalLabel(req.principal);
    req.log.info(
      {
        method: req.method,
        url: boundedForLog(redactUrl(req.url)),
        status: reply.statusCode,
        ...(principal === undefined ? {} : { principal }),
        remote: clientAddress(req),
        duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
      },
      'request completed',
    );
  });
}

function principalLabel(principal: Principal | null | undefined): string | undefined {
  if (!principal || principal.kind === 'anonymous') return undefined;
  return `${principal.kind}:${principal.id}`;
}
