import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionCookie } from '../../../http/cookie.js';
import { ModelgateError } from '../../../kernel/errors.js';
import type { SessionService } from '../../sessions/service.js';
import { errors, noContent } from '../openapi.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

/** Sign-in's shared schemas (components of the OpenAPI document). */
export const SESSION_SCHEMAS = [
  {
    $id: 'SignInRequest',
    type: 'object',
    required: ['username', 'password'],
    additionalProperties: false,
    properties: { username: { type: 'string', maxLength: 256 }, password: { type: 'string', maxLength: 1024 } },
  },
  {
    $id: 'Session',
    type: 'object',
    required: ['token', 'expires_at', 'username'],
    properties: {
      token: { type: 'string', description: 'The session credential (`mgu_...`), also set as the cookie' },
      expires_at: { type: 'string', format: 'date-time' },
      username: { type: 'string' },
    },
  },
];

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
      // Public, yet audited: every sign-in, failed, throttled or not, leaves a record.
      config: { auth: 'public', change: true },
      schema: {
        tags: ['sessions'],
        operationId: 'signIn',
        summary: 'Sign in with a username and password',
        description:
          'Returns a session credential (`mgu_...`) usable as a Bearer token, and sets it as an HttpOnly, SameSite=Strict cookie. Failed attempts are throttled per username and per address (429 + Retry-After).',
        security: [],
        body: ref('SignInRequest'),
        response: {
          201: {
            description: 'Signed in; the cookie is set too',
            content: { 'application/json': { schema: ref('Session') } },
          },
          ...errors(401, 429),
        },
      },
    },
    async (req, reply) => {
      const checked = await sessions.check(req.body.username, req.body.password, opts.clientAddress(req));
      if (!checked.ok) {
        // The audit names the account attacked, never a typed name that is none (it may be a password).
        req.auditTarget = checked.account ?? null;
        throw new ModelgateError('SIGN_IN_FAILED');
      }
      // The record commits with the session, under the user it signed in.
      req.auditActor = { kind: 'user', id: checked.userId, name: checked.username };
      const signed = await sessions.open(checked.userId, checked.username);
      const maxAge = Math.max(0, Math.floor((Date.parse(signed.expires_at) - Date.now()) / 1000));
      reply.header('set-cookie', sessionCookie(signed.token, maxAge, req.protocol === 'https'));
      reply.code(201);
      return signed;
    },
  );

  app.delete(
    `${base}/current`,
    {
      schema: {
        tags: ['sessions'],
        operationId: 'signOut',
        summary: 'Sign out: the session credential stops working at once',
        description: 'Only a session credential signs out (400 BAD_REQUEST for a key).',
        response: { ...noContent, ...errors(400) },
      },
    },
    async (req, reply) => {
      const session = req.principal.kind === 'user' ? req.principal.session : undefined;
      if (!session) {
        throw new ModelgateError('BAD_REQUEST', 'Only a session credential can sign out; keys are deleted instead');
      }
      await sessions.end(session);
      reply.header('set-cookie', sessionCookie('', 0, req.protocol === 'https'));
      return reply.code(204).send();
    },
  );
}
