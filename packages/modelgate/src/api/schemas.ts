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
