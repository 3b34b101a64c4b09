import type { FastifyInstance } from 'fastify';
import { LIVE_PATH, READY_PATH, type Readiness, readyBody } from '../../../http/health.js';
import { sendError } from '../errors.js';

/** `/_health/live` and `/_health/ready` on the management listener; no credential needed. */
export async function healthRoutes(app: FastifyInstance, opts: { readiness: Readiness }): Promise<void> {
  const hide = { hide: true };
  app.get(LIVE_PATH, { schema: hide, config: { auth: 'public' } }, async () => ({ status: 'live' }));
  app.get(READY_PATH, { schema: hide, config: { auth: 'public' } }, async (req, reply) => {
    const state = await opts.readiness.check();
    if (state.ready) return readyBody(state);
    return sendError(req, reply, 503, 'NOT_READY', `The node is not ready: ${state.reason}`);
  });
}
