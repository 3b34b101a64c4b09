import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionCookie } from '../../auth/sessions/cookie.js';
import type { SessionService } from '../../auth/sessions/service.js';
import { ModelgateError } from '../../errors/registry.js';
import { API_PREFIX } from '../prefix.js';

/**
 * Sign-in and sign-out (issue 8). `POST /api/v1/sessions` is the one management route that takes
 * no credential; it answers a bearer token and sets the same value as the console's cookie.
 */
export async function sessionRoutes(
  app: FastifyInstance,
  opts: { sessions: SessionService; clientAddress: (req: FastifyRequest) => string },
): Promise<void> {
  const sessions = opts.sessions;
  const base = `${API_PREFIX}/sessions`;

  app.post<{ Body: { username: string; password: string } }>(
    base,
    {
      config: { auth: 'public' },
      schema: {
        tags: ['sessions'],
        summary: 'Sign in with a username and password',
        description:
          'Returns a session credential (`mgu_...`) usable as a Bearer token, and sets it as an HttpOnly, SameSite=Strict cookie. Failed attempts are throttled per username and per address (429 + Retry-After).',
        security: [],
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: { username: { type: 'string', maxLength: 256 }, password: { type: 'string', maxLength: 1024 } },
        },
        response: {
          201: {
            type: 'object',
            properties: { token: { type: 'string' }, expires_at: { type: 'string' }, username: { type: 'string' } },
          },
        },
      },
    },
    async (req, reply) => {
      const signed = await sessions.signIn(req.body.username, req.body.password, opts.clientAddress(req));
      const maxAge = Math.max(0, Math.floor((Date.parse(signed.expires_at) - Date.now()) / 1000));
      reply.header('set-cookie', sessionCookie(signed.token, maxAge, req.protocol === 'https'));
      reply.code(201);
      return signed;
    },
  );

  app.delete(
    `${base}/current`,
    { schema: { tags: ['sessions'], summary: 'Sign out: the session credential stops working at once' } },
    async (req, reply) => {
      const session = req.principal.session;
      if (req.principal.kind !== 'user' || !session) {
        throw new ModelgateError('BAD_REQUEST', 'Only a session credential can sign out; keys are deleted instead');
      }
      await sessions.end(session);
      reply.header('set-cookie', sessionCookie('', 0, req.protocol === 'https'));
      return reply.code(204).send();
    },
  );
}
