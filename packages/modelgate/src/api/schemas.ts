import { MAX_GRACE_S } from '../auth/rotation.js';
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
    auth: authSettingsSchema,
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
    requests: {
      type: 'integer',
      description: 'Requests made with the key (written by the data plane every few seconds)',
    },
    last_used_at: { type: ['string', 'null'], description: 'When the key was last used; null when never' },
    ...rotationProperties(),
  },
} as const;

/** `state` and `retires_at` of a credential that can be rolled (X2). */
function rotationProperties() {
  return {
    state: {
      type: 'string',
      enum: ['active', 'retiring', 'retired'],
      description: '`retiring`: rolled, still accepted until `retires_at`; `retired`: refused',
    },
    retires_at: { type: ['string', 'null'], description: 'When a rolled credential stops working' },
  } as const;
}

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
    auth: authSettingsSchema,
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

export const endpointAccessSchema = {
  description: 'Protected Endpoint access: every deployment, or the ones listed (within what the owner may read)',
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['all'],
      properties: { all: { type: 'boolean', enum: [true] } },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['deployments'],
      properties: { deployments: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100 } },
    },
  ],
} as const;

export const apiTokenSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    token: { type: 'string', description: 'The token itself: only in the answer that created it' },
    name: { type: 'string' },
    description: { type: 'string' },
    user: { type: 'string', description: "The owner's username" },
    prefix: { type: 'string', description: 'The first characters of the token, safe to show' },
    ops_access: { type: 'boolean', description: 'Developer Operations access: the management API, as the owner' },
    endpoint_access: { anyOf: [endpointAccessSchema, { type: 'null' }] },
    created_at: { type: 'string' },
    expires_at: { type: 'string' },
    requests: {
      type: 'integer',
      description: 'Requests made with the token (written by the data plane every few seconds)',
    },
    last_used_at: { type: ['string', 'null'], description: 'When the token was last used; null when never' },
    ...rotationProperties(),
  },
} as const;

/** The body of `POST …/{id}/roll` (tokens and API keys, X2). */
export const rollBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    grace_seconds: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_GRACE_S,
      description: 'How long the old credential keeps working; 0 (the default) ends it at once',
    },
  },
} as const;

export const predecessorSchema = {
  type: 'object',
  description: 'The rolled credential: refused from `retires_at` on',
  properties: { id: { type: 'string' }, retires_at: { type: 'string' } },
} as const;
