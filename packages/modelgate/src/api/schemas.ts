import { NAME_PATTERN, SECRET_NAME_PATTERN } from '../control/validation.js';

/** JSON schemas shared by routes: they validate input and become the OpenAPI document. */

export const authSettingsSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'How a protected deployment checks callers (the node inference key always works).',
  properties: {
    basic_secret: {
      type: ['string', 'null'],
      description: 'Secret whose value, at (re)deploy, is the HTTP Basic password',
    },
    api_keys: { type: 'boolean', description: 'Accept API keys (Authorization: Bearer mgk_...)' },
    forward_credential: { type: 'boolean', description: "Pass the caller's Authorization header upstream" },
    oidc: {
      type: ['object', 'null'],
      description:
        'External OAuth2/OIDC issuer: issuer, audiences, jwks_url, algorithms, required_claims, required_scopes, clock_skew_s',
    },
  },
} as const;

/**
 * Auth settings as responses carry them. `oidc` spells out its fields: fastify serializes an
 * object schema without properties as `{}`, which would hide the issuer from `deployments show`
 * and make `modelgate export` write settings that cannot be applied back.
 */
const authSettingsResponseSchema = {
  ...authSettingsSchema,
  properties: {
    ...authSettingsSchema.properties,
    oidc: {
      type: ['object', 'null'],
      description: 'External OAuth2/OIDC issuer whose access tokens are accepted; null for none',
      properties: {
        issuer: { type: 'string' },
        audiences: { type: 'array', items: { type: 'string' } },
        jwks_url: { type: ['string', 'null'], description: 'null: OpenID discovery from the issuer' },
        algorithms: { type: 'array', items: { type: 'string' } },
        required_claims: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
        required_scopes: { type: 'array', items: { type: 'string' } },
        clock_skew_s: { type: 'integer' },
      },
    },
  },
} as const;

export const deploymentSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    infrastructure: { type: 'string' },
    service: { type: 'string' },
    version: { type: 'string' },
    upstream: { type: 'string' },
    access: { type: 'string', enum: ['public', 'protected'] },
    enabled: { type: 'boolean' },
    revision: { type: 'integer' },
    auth: authSettingsResponseSchema,
    auth_source: { type: 'string', enum: ['version', 'override'] },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

export const apiKeySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    prefix: { type: 'string' },
    key: { type: 'string', description: 'Only on creation and reveal' },
    description: { type: 'string' },
    deployment: { type: 'string' },
    service: { type: 'string' },
    version: { type: 'string' },
    created_at: { type: 'string' },
    last_used_at: { type: ['string', 'null'] },
  },
} as const;

export const secretSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, created_at: { type: 'string' }, updated_at: { type: 'string' } },
} as const;

export const namedSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    created_at: { type: 'string' },
  },
} as const;

export const versionSchema = {
  type: 'object',
  properties: {
    service: { type: 'string' },
    version: { type: 'string' },
    auth: authSettingsResponseSchema,
    created_at: { type: 'string' },
  },
} as const;

export const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', maxLength: 128 } },
} as const;

export const errorResponse = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        request_id: { type: 'string' },
        details: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

/** A name in the one documented pattern (docs/decisions.md): refused with 400 before any store access. */
export const resourceName = { type: 'string', pattern: NAME_PATTERN.source, maxLength: 63 } as const;
export const secretName = { type: 'string', pattern: SECRET_NAME_PATTERN.source, maxLength: 128 } as const;

/** Path parameters made only of resource names (`name`, `group`, `username`, ...). */
export function namesParams<const K extends string>(...keys: K[]) {
  return {
    type: 'object',
    required: keys,
    properties: Object.fromEntries(keys.map((k) => [k, resourceName])) as Record<K, typeof resourceName>,
  } as const;
}

export const userSchema = {
  type: 'object',
  properties: {
    username: { type: 'string' },
    id: { type: 'string' },
    disabled: { type: 'boolean' },
    groups: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
  },
} as const;

export const groupSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    privileges: { type: 'array', items: { type: 'string', enum: ['admin', 'create_service'] } },
    members: { type: 'array', items: { type: 'string' } },
    created_at: { type: 'string' },
  },
} as const;

export const grantSchema = {
  type: 'object',
  properties: { group: { type: 'string' }, rights: { type: 'array', items: { type: 'string' } } },
} as const;
