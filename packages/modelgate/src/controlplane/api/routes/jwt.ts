import type { FastifyInstance } from 'fastify';
import { JWKS_CACHE_CONTROL, JWKS_PATH } from '../../../keys/jwks.js';
import type { SigningKeyRing } from '../../../keys/signing-keys.js';
import { authorize } from '../../access/authorize.js';
import type { ControlContext } from '../../operations/context.js';
import { issueJwt, type JwtSettings, revokeJwt } from '../../operations/jwt.js';
import { errors } from '../openapi.js';
import { API_PREFIX } from '../prefix.js';
import { ref } from '../schemas.js';

/** What the platform JWT routes need: the signing keys and the node's JWT settings. */
export interface JwtRouteOptions {
  readonly control: ControlContext;
  readonly keys: SigningKeyRing;
  readonly settings: JwtSettings;
}

const issueInput = {
  type: 'object',
  additionalProperties: false,
  description: 'The target: `deployment` or `infrastructure`, exactly one.',
  properties: {
    deployment: { type: 'string', maxLength: 64, description: 'A deployment name: the token opens it alone' },
    infrastructure: { type: 'string', maxLength: 64, description: 'An infrastructure name: every deployment in it' },
    expires_at: { type: 'string', maxLength: 64, description: 'ISO-8601; default and maximum are node settings' },
  },
} as const;

const signingKey = {
  $id: 'SigningKey',
  type: 'object',
  required: ['kid', 'alg', 'created_at', 'retired_at'],
  properties: {
    kid: { type: 'string' },
    alg: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    retired_at: { type: ['string', 'null'], format: 'date-time', description: 'Set once a newer key replaced it' },
  },
} as const;

/** The platform JWT routes' shared schemas (components of the OpenAPI document). */
export const JWT_SCHEMAS = [
  { ...issueInput, $id: 'IssueJwtRequest' },
  {
    $id: 'IssuedJwt',
    type: 'object',
    required: ['token', 'jti', 'expires_at'],
    properties: {
      token: { type: 'string', description: 'Shown once; not stored' },
      jti: { type: 'string' },
      expires_at: { type: 'string', format: 'date-time' },
    },
  },
  {
    $id: 'JwtRevocationRequest',
    type: 'object',
    additionalProperties: false,
    description: '`jti`, or a target (`deployment` or `infrastructure`) with an optional `issued_before`.',
    properties: {
      jti: { type: 'string', maxLength: 128 },
      deployment: { type: 'string', maxLength: 64 },
      infrastructure: { type: 'string', maxLength: 64 },
      issued_before: { type: 'string', maxLength: 64, description: 'ISO-8601; default now' },
    },
  },
  {
    $id: 'JwtRevocation',
    type: 'object',
    required: ['id', 'jti', 'issued_before', 'created_at'],
    properties: {
      id: { type: 'string' },
      jti: { type: ['string', 'null'] },
      deployment: { type: 'string' },
      infrastructure: { type: 'string' },
      issued_before: { type: ['string', 'null'], format: 'date-time' },
      created_at: { type: 'string', format: 'date-time' },
    },
  },
  signingKey,
  {
    $id: 'SigningKeyList',
    type: 'object',
    required: ['signing_keys'],
    description: 'Not paged: a handful of keys (the current one and those retired recently).',
    properties: { signing_keys: { type: 'array', items: ref('SigningKey') } },
  },
  {
    $id: 'SigningKeyRotation',
    type: 'object',
    required: ['kid', 'signing_keys'],
    properties: {
      kid: { type: 'string', description: 'The new current key' },
      signing_keys: { type: 'array', items: ref('SigningKey') },
    },
  },
];

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
  const issued = { 200: ref('IssuedJwt'), ...errors(404) };
  app.get<{ Querystring: IssueInput }>(
    `${API_PREFIX}/issue-jwt`,
    {
      schema: { tags, operationId: 'issueJwtWithQuery', summary, querystring: issueInput, response: issued },
      // Minting a credential is a change whatever the method: audited like the POST. A HEAD
      // must not mint a token it cannot even show.
      config: { change: true },
      exposeHeadRoute: false,
    },
    async (req) => issueJwt(control, keys, settings, req.principal, req.query),
  );
  // Scaleway's clients send the target as query parameters, on GET and POST alike.
  app.post<{ Body: IssueInput | undefined; Querystring: IssueInput }>(
    `${API_PREFIX}/issue-jwt`,
    {
      schema: {
        tags,
        operationId: 'issueJwt',
        summary,
        description:
          'The target goes in the body or, as Scaleway’s clients send it, in the query; an empty body is fine.',
        querystring: issueInput,
        body: ref('IssueJwtRequest'),
        response: issued,
      },
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
        operationId: 'revokeJwts',
        summary: 'Revoke a platform JWT by jti, or every token of a target issued before a time',
        body: ref('JwtRevocationRequest'),
        response: { 201: ref('JwtRevocation'), ...errors(404, 409) },
      },
    },
    async (req, reply) => {
      reply.code(201);
      return revokeJwt(control, settings, req.principal, req.body ?? {});
    },
  );

  app.get(
    `${API_PREFIX}/signing-keys`,
    {
      schema: {
        tags,
        operationId: 'listSigningKeys',
        summary: 'List signing keys (public facts only)',
        // Kids, algorithms and dates are published in the JWKS anyway: any signed-in caller may list them.
        description: 'Public facts only (what the JWKS publishes, plus dates): open to any signed-in caller.',
        response: { 200: ref('SigningKeyList') },
      },
    },
    async () => ({
      signing_keys: await keys.list(),
    }),
  );
  app.post(
    `${API_PREFIX}/signing-keys/rotate`,
    {
      schema: {
        tags,
        operationId: 'rotateSigningKey',
        summary: 'Make a new current signing key; retired keys stay published until their tokens expire',
        description: 'A node-wide action: global admins only (users with `admin`, admin keys, the management key).',
        response: { 201: ref('SigningKeyRotation'), ...errors(409) },
      },
    },
    async (req, reply) => {
      await authorize(control, req.principal, { global: 'admin' });
      const kid = await keys.rotate();
      reply.code(201);
      return { kid, signing_keys: await keys.list() };
    },
  );
}
