import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.js';
import { describeRequest } from '../log/logger.js';
import { LIVE_PATH, READY_PATH, type Readiness } from '../server/health.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../server/request-id.js';
import { sendError, sendJson } from '../server/respond.js';

export interface GatewayContext {
  readonly log: Logger;
  readonly readiness: Readiness;
}

/**
 * The data plane's request handler: gateway routes (`/_health/...`), then deployments.
 * Bad input is answered with a registry error; an unexpected throw is logged and answered 500
 * without detail, so one broken request never takes the process down.
 */
export function gatewayHandler(ctx: GatewayContext) {
  const log = ctx.log.child({ listener: 'inference' });
  return (req: IncomingMessage, res: ServerResponse): void => {
    const id = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, id);
    handle(req, res, id).catch((err: unknown) => {
      log.error({ err, request_id: id, req: describeRequest(req) }, 'gateway error');
      sendError(res, 'INTERNAL', id);
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === LIVE_PATH) return sendJson(res, 200, { status: 'live' });
    if (path === READY_PATH) {
      const state = await ctx.readiness.check();
      if (state.ready) return sendJson(res, 200, { status: 'ready' });
      return sendError(res, 'NOT_READY', id, { message: `The node is not ready: ${state.reason}` });
    }
    sendError(res, 'DEPLOYMENT_NOT_FOUND', id);
  }
}
