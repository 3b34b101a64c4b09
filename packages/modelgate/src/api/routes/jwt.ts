import type { FastifyInstance } from 'fastify';
import type { SigningKeyRing } from '../../auth/jwt/signing-keys.js';
import type { ControlContext } from '../../control/context.js';
import { issueJwt, type JwtSettings, revokeJwt } from '../../control/jwt.js';
import { JWKS_CACHE_CONTROL, JWKS_PATH } from '../../gateway/jwks.js';
import { API_PREFIX } from '../prefix.js';

/** What the platform JWT routes need: the signing keys and the node's JWT settings. */
export interface JwtRouteOptions {
  readonly control: ControlContext;
  readonly keys: SigningKeyRing;
  readonly settings: JwtSettings;
}

const issueInput = {
  type: 'object',
  additionalProperties: false,
  properties: {
    deployment: { type: 'string', maxLength: 64, description: 'A deployment name: the token opens it alone' },
    infrastructure: { type: 'string', maxLength: 64, description: 'An infrastructure name: every deployment in it' },
    expires_at: { type: 'string', maxLength: 64, description: 'ISO-8601; default and maximum are node settings' },
  },
} as const;

const issued = {
  type: 'object',
  required: ['token', 'jti', 'expires_at'],
  properties: { token: { type: 'string' }, jti: { type: 'string' }, expires_at: { type: 'string' } },
} as const;

type IssueInput = { deployment?: string; infrastructure?: string; expires_at?: string };

/** Platform JWTs: the JWKS, issuing (S2–S4), revocation (X1) and signing key rotation. */
export async function jwtRoutes(app: FastifyInstance, opts: JwtRouteOptions): Promise<void> {
  const { control, keys, settings } = opts;
  const tags = ['platform jwt'];

  app.get(JWKS_PATH, { schema: { hide: true }, config: { auth: 'public' } }, async (_req, reply) => {
    reply.header('cache-control', JWKS_CACHE_CONTROL).type('application/jwk-set+json');
    return keys.publicJwks();
  });

  const summary = 'Issue a platform JWT for a deployment or an infrastructure (shown once, not stored)';
  app.get<{ Querystring: IssueInput }>(
    `${API_PREFIX}/issue-jwt`,
    { schema: { tags, summary, querystring: issueInput, response: { 200: issued } } },
    async (req) => issueJwt(control, keys, settings, req.principal, req.query),
  );
  // Scaleway's clients send the target as query parameters, on GET and POST alike.
  app.post<{ Body: IssueInput | undefined; Querystring: IssueInput }>(
    `${API_PREFIX}/issue-jwt`,
    {
      schema: { tags, summary, querystring: issueInput, body: issueInput, response: { 200: issued } },
      // No body at all is fine (the target is in the query); the schema then checks an empty one.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => issueJwt(control, keys, settings, req.principal, { ...req.query, ...req.body }),
  );

  app.post<{ Body: { jti?: string; deployment?: string; infrastructure?: string; issued_before?: string } }>(
    `${API_PREFIX}/jwt-revocations`,
    {
      schema: {
        tags,
        summary: 'Revoke a platform JWT by jti, or every token of a target issued before a time',
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            jti: { type: 'string', maxLength: 128 },
            deployment: { type: 'string', maxLength: 64 },
            infrastructure: { type: 'string', maxLength: 64 },
            issued_before: { type: 'string', maxLength: 64, description: 'ISO-8601; default now' },
          },
        },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return revokeJwt(control, settings, req.principal, req.body ?? {});
    },
  );

  app.get(
    `${API_PREFIX}/signing-keys`,
    { schema: { tags, summary: 'List signing keys (public facts only)' } },
    async () => ({
      signing_keys: await keys.list(),
    }),
  );
  app.post(
    `${API_PREFIX}/signing-keys/rotate`,
    {
      schema: {
        tags,
        summary: 'Make a new current signing key; retired keys stay published until their tokens expire',
      },
    },
    async (_req, reply) => {
      const kid = await keys.rotate();
      reply.code(201);
      return { kid, signing_keys: await keys.list() };
    },
  );
}
