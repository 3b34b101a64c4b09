import type { SwaggerOptions } from '@fastify/swagger';
import type { RouteOptions } from 'fastify';
import { SESSION_COOKIE } from '../../http/cookie.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from './paging.js';
import { ref } from './schemas.js';

/** What each 4xx of the management API means, as its OpenAPI response says it. */
const ERROR_RESPONSES = {
  400: 'Malformed, or failed validation: `error.field` and `error.details` name the offending fields (VALIDATION_FAILED, BAD_REQUEST)',
  401: 'No credential, or a malformed, unknown, expired or revoked one; `WWW-Authenticate` says which (CREDENTIAL_*)',
  403: 'The credential may not do this (FORBIDDEN, MISSING_* naming the right, CSRF_REJECTED)',
  404: 'No such resource, or one the caller may not read (RESOURCE_NOT_FOUND)',
  409: 'It exists already, is still in use, or a concurrent change conflicted (RESOURCE_CONFLICT, RESOURCE_IN_USE, WRITE_CONFLICT)',
  413: 'The body is larger than 1 MiB (PAYLOAD_TOO_LARGE)',
  415: 'The body is not `application/json` (UNSUPPORTED_MEDIA_TYPE)',
  429: 'Too many failed credentials from this address; `Retry-After` says when to retry (THROTTLED)',
} as const;

export type ErrorStatus = keyof typeof ERROR_RESPONSES;

const HEADERS: Partial<Record<ErrorStatus, Record<string, { type: 'string'; description: string }>>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: 'RFC 6750 challenge naming the scheme and the error' } },
  429: { 'Retry-After': { type: 'string', description: 'Seconds to wait before retrying' } },
};

/** The response of one error status: the error envelope, with its headers. */
function errorResponse(status: ErrorStatus) {
  return {
    description: ERROR_RESPONSES[status],
    ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
    content: { 'application/json': { schema: ref('Error') } },
  };
}

/**
 * Error responses for a route's schema: `errors(404, 409)` documents (and serializes) those
 * statuses with the error envelope. The ones every route of its shape can return are added by
 * `documentErrors`.
 */
export function errors(...statuses: ErrorStatus[]): Record<number, ReturnType<typeof errorResponse>> {
  return Object.fromEntries(statuses.map((s) => [s, errorResponse(s)]));
}

/** A 204 response (no body). */
export const noContent = { 204: { type: 'null', description: 'Done; no body' } } as const;

/**
 * The 4xx responses a route can return because of its shape, added to what it declares: 400
 * when it takes input, 401/403/429 unless it is public, 404 when its path names a resource,
 * 413/415 when it takes a body. Pure: returns the new schema.
 */
export function documentErrors(options: Pick<RouteOptions, 'schema' | 'config' | 'method'>): RouteOptions['schema'] {
  const schema = (options.schema ?? {}) as Record<string, unknown>;
  if (schema.hide) return options.schema;
  const auth = (options.config as { auth?: string } | undefined)?.auth ?? 'management';
  const statuses: ErrorStatus[] = [];
  if (schema.body || schema.querystring || schema.params) statuses.push(400);
  if (auth !== 'public') statuses.push(401, 403, 429);
  if (schema.params) statuses.push(404);
  if (schema.body) statuses.push(413, 415);
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  const added = Object.fromEntries(
    Object.entries(errors(...statuses)).filter(([status]) => declared[status] === undefined),
  );
  return { ...schema, response: { ...declared, ...added } } as RouteOptions['schema'];
}

/**
 * The @fastify/swagger options: OpenAPI 3.1, the two ways to authenticate, and every shared
 * schema under `components.schemas` by its `$id`.
 */
export const SWAGGER_OPTIONS: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'modelgate management API',
      version: '1',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      description: [
        'Control plane of modelgate: deployments, credentials and permissions.',
        '',
        `**Lists** page: \`limit\` (1-${PAGE_LIMIT_MAX}, default ${PAGE_LIMIT_DEFAULT}) items a page, and \`next_cursor\` ` +
          'in the response, passed back as `cursor` (opaque, with the same filters) for the following page; ' +
          'it is null after the last one. A bad cursor is 400 VALIDATION_FAILED with `error.field` = `cursor`.',
        '',
        '**Errors** are `{"error":{"code","message","request_id"}}` with a stable code (docs/errors.md). ' +
          'A validation error names the offending field in `error.field`, the message and `error.details`. ' +
          'A known path with another method is 405 METHOD_NOT_ALLOWED with `Allow`.',
        '',
        '**Bodies** are JSON. A POST that takes no body accepts an empty one, with or without `Content-Type: application/json`.',
      ].join('\n'),
    },
    servers: [{ url: '/', description: 'The node serving this document (its management listener)' }],
    tags: [
      { name: 'identity', description: 'Who is calling' },
      { name: 'deployments', description: 'Named endpoints in front of model servers' },
      { name: 'api keys', description: 'Keys of a deployment or a service version' },
      { name: 'secrets', description: 'Named values stored sealed (Basic passwords)' },
      { name: 'infrastructures', description: 'Where deployments live' },
      { name: 'services', description: 'Model APIs and their immutable versions' },
      { name: 'users', description: 'People' },
      { name: 'groups', description: 'Global privileges and grants' },
      { name: 'sessions', description: 'Sign-in and sign-out' },
      { name: 'platform jwt', description: 'Tokens signed by the node, revocation and signing keys' },
      { name: 'audit', description: 'The audit log' },
      { name: 'node keys', description: "TorchServe's token API" },
    ],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Management key, admin key, API token or session (`mgu_`) as `Authorization: Bearer`',
        },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description:
            'The console’s session cookie, set by `POST /api/v1/sessions`; writes also need a same-origin `Origin` or `X-Modelgate-CSRF`',
        },
      },
    },
    security: [{ bearer: [] }, { session: [] }],
  },
  // Shared schemas keep their `$id` as the component name (default: def-0, def-1, ...).
  refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
};
