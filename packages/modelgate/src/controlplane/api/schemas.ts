import { CREDENTIAL_KINDS } from '../../kernel/credential-kinds.js';
import { OIDC_ALGORITHMS } from '../../kernel/oidc-settings.js';
import { GLOBAL_PRIVILEGES } from '../../kernel/permissions.js';
import { RATE_LIMIT_BY, RATE_LIMIT_MAX, RATE_WINDOWS } from '../../kernel/rate-limit.js';
import { MAX_GRACE_S } from '../../kernel/rotation.js';
import { ACCESS_VALUES, DESCRIPTION_MAX, NAME_PATTERN, SECRET_NAME_PATTERN } from '../../kernel/validation.js';

/**
 * JSON schemas shared by routes: they validate input, serialize output (a property missing from
 * a response schema is dropped from the response) and become `components.schemas` of the OpenAPI
 * document. Each has an `$id`, which is its component name; routes point at them with `ref()`.
 */

/** A reference to a shared schema, as a route writes it. */
export function ref<const Id extends string>(id: Id) {
  return { $ref: `${id}#` } as const;
}

const text = { type: 'string' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const strings = { type: 'array', items: text } as const;

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

const nextCursor = {
  type: ['string', 'null'],
  description: 'Pass as `cursor` for the following page; null after the last page',
} as const;

/**
 * A list page: the items under their plural name, and the cursor of the following page; `extra`,
 * optional fields about the whole list (what the caller may do with it).
 */
function listOf(id: string, key: string, item: string, description: string, extra: Record<string, object> = {}) {
  return {
    $id: id,
    type: 'object',
    description,
    required: [key, 'next_cursor'],
    properties: { [key]: { type: 'array', items: ref(item) }, next_cursor: nextCursor, ...extra },
  } as const;
}

/** The one error body of both planes (docs/errors.md). */
const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error response: a stable code (docs/errors.md), a public message and the request id.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'request_id'],
      properties: {
        code: { type: 'string', description: 'Stable error code, e.g. `RESOURCE_NOT_FOUND`', examples: ['FORBIDDEN'] },
        message: { type: 'string', description: 'What went wrong, safe to show; never a credential' },
        request_id: { type: 'string', description: 'Also in the `X-Request-Id` header and the node’s log' },
        details: { type: 'array', items: text, description: 'Every problem, when there are several' },
        field: {
          type: 'string',
          description:
            'For VALIDATION_FAILED: the first offending request field (`upstream`, `auth.api_keys`, `limit`)',
        },
      },
    },
  },
} as const;

const oidcSettingsSchema = {
  $id: 'OidcSettings',
  type: 'object',
  description: 'An external OAuth2/OIDC issuer whose access tokens the deployment accepts.',
  properties: {
    issuer: { type: 'string', description: 'The `iss` tokens must carry; also the base of OpenID discovery' },
    audiences: { ...strings, description: 'Accepted `aud` values: a token must name one' },
    jwks_url: { type: ['string', 'null'], description: 'The issuer’s JWKS; null means OpenID discovery' },
    algorithms: { type: 'array', items: { type: 'string', enum: OIDC_ALGORITHMS } },
    required_claims: {
      type: 'object',
      additionalProperties: { type: ['string', 'number', 'boolean'] },
      description: 'Claims that must be present with exactly this value',
    },
    required_scopes: strings,
    clock_skew_s: { type: 'integer', description: 'Seconds of clock skew tolerated' },
  },
} as const;

const authProperties = {
  basic_secret: {
    type: ['string', 'null'],
    description: 'Secret whose value, at (re)deploy, is the HTTP Basic password',
  },
  api_keys: { type: 'boolean', description: 'Accept API keys (Authorization: Bearer mgk_...)' },
  forward_credential: { type: 'boolean', description: "Pass the caller's Authorization header upstream" },
  credentials: {
    type: ['array', 'null'],
    // Checked by the domain (a misspelt kind is named with the nearest one); the output lists the enum.
    items: { type: 'string', maxLength: 64 },
    description:
      'The only kinds of credential that open it while protected (each listed kind needs its own setting on: basic a basic_secret, api_key api_keys, oidc an issuer); null for every kind the other settings turn on, the node inference key, API tokens and platform JWTs included',
  },
} as const;

const authSettingsSchema = {
  $id: 'AuthSettings',
  type: 'object',
  description: 'How a protected deployment checks callers.',
  properties: {
    ...authProperties,
    credentials: { ...authProperties.credentials, items: { type: 'string', enum: CREDENTIAL_KINDS } },
    oidc: { ...ref('OidcSettings'), description: 'Absent when none' },
  },
} as const;

const authSettingsInputSchema = {
  $id: 'AuthSettingsInput',
  type: 'object',
  additionalProperties: false,
  description:
    'Auth settings to set: on creation what is left out takes its default; in a PATCH it keeps its current value.',
  properties: {
    ...authProperties,
    oidc: {
      type: ['object', 'null'],
      description:
        'External OAuth2/OIDC issuer (see OidcSettings): issuer, audiences, jwks_url, algorithms, required_claims, required_scopes, clock_skew_s; null for none',
    },
  },
} as const;

const rateLimitSchema = {
  $id: 'RateLimit',
  type: 'object',
  required: ['requests', 'per'],
  description:
    'At most `requests` in each `per` window (fixed windows on the clock); over it, 429 RATE_LIMITED with Retry-After, RateLimit-Policy and RateLimit',
  properties: {
    requests: { type: 'integer', minimum: 1, maximum: RATE_LIMIT_MAX },
    per: { type: 'string', enum: RATE_WINDOWS },
    by: {
      type: 'string',
      enum: RATE_LIMIT_BY,
      description:
        'Only on a deployment: each credential (and each address, when public) has its own count (`credential`, the default) or all callers share one (`deployment`)',
    },
  },
} as const;

/** A rate limit as a request gives it: checked by the domain, so a misspelt window is named with the nearest one. */
function rateLimitInput(description: string) {
  return { type: ['object', 'null'], description: `${description}: a RateLimit, or null for none` } as const;
}

const nullableRateLimit = (description: string) => ({ anyOf: [ref('RateLimit'), { type: 'null' }], description });

const deploymentSchema = {
  $id: 'Deployment',
  type: 'object',
  required: [
    'name',
    'infrastructure',
    'service',
    'version',
    'upstream',
    'access',
    'enabled',
    'revision',
    'auth',
    'admits',
  ],
  properties: {
    name: text,
    infrastructure: text,
    service: text,
    version: text,
    upstream: text,
    access: { type: 'string', enum: ACCESS_VALUES },
    enabled: { type: 'boolean' },
    revision: { type: 'integer', description: 'Grows by one on every (re)deploy' },
    auth: ref('AuthSettings'),
    auth_source: { type: 'string', enum: ['version', 'override'] },
    admits: {
      type: 'array',
      items: { type: 'string', enum: CREDENTIAL_KINDS },
      description: 'Exactly the kinds of credential that open it while protected, from `auth`',
    },
    rate_limit: nullableRateLimit('Its rate limit, null for none'),
    created_at: time,
    updated_at: time,
    caller_may_deploy: {
      type: 'boolean',
      description:
        'In `GET /deployments` and `GET /deployments/{name}`: whether the caller may change it (update, redeploy, enable/disable, delete, its API keys, revoking its JWTs), as those routes decide; the console hides what it may not',
    },
  },
} as const;

const deploymentFields = {
  upstream: { type: 'string', maxLength: 2048, description: 'Base URL of the model server (http or https)' },
  access: { type: 'string', enum: ACCESS_VALUES },
  version: { type: 'string', maxLength: 64 },
} as const;

const createDeploymentRequest = {
  $id: 'CreateDeploymentRequest',
  type: 'object',
  required: ['name', 'upstream'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 63 },
    ...deploymentFields,
    infrastructure: { type: 'string', maxLength: 63 },
    service: { type: 'string', maxLength: 63 },
    auth: ref('AuthSettingsInput'),
    enabled: { type: 'boolean' },
    rate_limit: rateLimitInput('Requests allowed per window, per credential unless `by` is `deployment`'),
    api_keys: { type: 'integer', minimum: 0, maximum: 100, description: 'Also create this many API keys' },
  },
} as const;

const createDeploymentResponse = {
  $id: 'CreateDeploymentResponse',
  type: 'object',
  required: ['deployment', 'created'],
  properties: {
    deployment: ref('Deployment'),
    created: { ...strings, description: 'What was created because it was missing' },
    generated_secret: {
      type: 'object',
      description: 'A Basic secret generated because it was missing: its value, shown once',
      properties: { name: text, value: text },
    },
    api_keys: { type: 'array', items: ref('ApiKey'), description: 'The keys asked for, shown once' },
  },
} as const;

const updateDeploymentRequest = {
  $id: 'UpdateDeploymentRequest',
  type: 'object',
  additionalProperties: false,
  properties: {
    ...deploymentFields,
    auth: { anyOf: [ref('AuthSettingsInput'), { type: 'null' }], description: 'null: back to the version’s settings' },
    rate_limit: rateLimitInput('A new rate limit; null removes it'),
  },
} as const;

const apiKeySchema = {
  $id: 'ApiKey',
  type: 'object',
  required: ['id', 'prefix', 'created_at'],
  properties: {
    id: text,
    prefix: text,
    key: { type: 'string', description: 'Only on creation and reveal' },
    description: text,
    deployment: text,
    service: text,
    version: text,
    created_at: time,
    rate_limit: nullableRateLimit(
      "The key's own rate limit: a deployment's key's replaces the deployment's per-caller one, a version key's only narrows it; null for none",
    ),
    ...credentialStateProperties('key'),
  },
} as const;

/** A rolled API key's successor (shown once), naming its predecessor. */
const rolledApiKeySchema = {
  $id: 'RolledApiKey',
  type: 'object',
  required: apiKeySchema.required,
  properties: {
    ...apiKeySchema.properties,
    predecessor: predecessorProperty('key'),
  },
} as const;

/** Usage (X6) and rotation state (X2) of a credential: `requests`, `last_used_at`, `state`, `retires_at`. */
function credentialStateProperties(what: 'key' | 'token') {
  return {
    requests: {
      type: 'integer',
      description: `Requests made with the ${what} (written by the data plane every few seconds)`,
    },
    last_used_at: { ...nullableTime, description: `When the ${what} was last used; null when never` },
    ...rotationProperties(),
  } as const;
}

/** The predecessor named by a roll's answer. */
function predecessorProperty(what: 'key' | 'token') {
  return {
    type: 'object',
    description: `The rolled ${what}: refused from \`retires_at\` on`,
    properties: { id: text, retires_at: time },
  } as const;
}

/** `state` and `retires_at` of a credential that can be rolled (X2). */
function rotationProperties() {
  return {
    state: {
      type: 'string',
      enum: ['active', 'retiring', 'retired'],
      description: '`retiring`: rolled, still accepted until `retires_at`; `retired`: refused',
    },
    retires_at: { ...nullableTime, description: 'When a rolled credential stops working' },
  } as const;
}

const createApiKeysRequest = {
  $id: 'CreateApiKeysRequest',
  type: 'object',
  additionalProperties: false,
  description: 'The owner: `deployment`, or `service` with `version`.',
  properties: {
    deployment: text,
    service: text,
    version: text,
    count: { type: 'integer', minimum: 1, maximum: 100 },
    description: { type: 'string', maxLength: DESCRIPTION_MAX },
    rate_limit: rateLimitInput(
      "Each key's own limit (without `by`): a deployment's key's replaces the deployment's per-caller one, a version key's only narrows it",
    ),
  },
} as const;

const createdApiKeys = {
  $id: 'CreatedApiKeys',
  type: 'object',
  required: ['api_keys'],
  properties: { api_keys: { type: 'array', items: ref('ApiKey') } },
} as const;

const secretSchema = {
  $id: 'Secret',
  type: 'object',
  required: ['name'],
  properties: {
    name: text,
    created_at: time,
    updated_at: time,
    caller_may_change: {
      type: 'boolean',
      description:
        'Only in `GET /secrets`: whether the caller may set its value or delete it (`admin` on the secret), as those routes decide',
    },
  },
} as const;

const secretValueProperties = {
  value: { type: 'string', minLength: 1, maxLength: 4096 },
  generate: { type: 'boolean', description: 'Generate a value (returned once)' },
} as const;

const createSecretRequest = {
  $id: 'CreateSecretRequest',
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  description: 'A `value`, or `generate: true`.',
  properties: { name: { type: 'string' }, ...secretValueProperties },
} as const;

const secretValueRequest = {
  $id: 'SecretValueRequest',
  type: 'object',
  additionalProperties: false,
  description: 'A `value`, or `generate: true`.',
  properties: secretValueProperties,
} as const;

const secretResult = {
  $id: 'SecretResult',
  type: 'object',
  required: ['secret'],
  properties: { secret: ref('Secret'), value: { type: 'string', description: 'Only when generated' } },
} as const;

const catalogEntry = (id: string, what: string) =>
  ({
    $id: id,
    type: 'object',
    description: what,
    required: ['name'],
    properties: { name: text, description: text, created_at: time },
  }) as const;

const createCatalogEntryRequest = {
  $id: 'CreateCatalogEntryRequest',
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', maxLength: 63 }, description: { type: 'string', maxLength: DESCRIPTION_MAX } },
} as const;

const describeRequest = {
  $id: 'DescriptionRequest',
  type: 'object',
  required: ['description'],
  additionalProperties: false,
  properties: { description: { type: 'string', maxLength: DESCRIPTION_MAX } },
} as const;

const versionSchema = {
  $id: 'Version',
  type: 'object',
  required: ['service', 'version', 'auth'],
  properties: { service: text, version: text, auth: ref('AuthSettings'), created_at: time },
} as const;

const createVersionRequest = {
  $id: 'CreateVersionRequest',
  type: 'object',
  required: ['version'],
  additionalProperties: false,
  properties: { version: { type: 'string', maxLength: 64 }, auth: ref('AuthSettingsInput') },
} as const;

const privileges = { type: 'array', items: { type: 'string', enum: GLOBAL_PRIVILEGES } } as const;
const password = { type: 'string', maxLength: 1024, description: '12-256 characters, not a common password' } as const;

const userSchema = {
  $id: 'User',
  type: 'object',
  required: ['username', 'id', 'disabled', 'groups'],
  properties: { username: text, id: text, disabled: { type: 'boolean' }, groups: strings, created_at: time },
} as const;

const createUserRequest = {
  $id: 'CreateUserRequest',
  type: 'object',
  required: ['username', 'password'],
  additionalProperties: false,
  properties: { username: resourceName, password, groups: { type: 'array', items: resourceName } },
} as const;

const passwordRequest = {
  $id: 'PasswordRequest',
  type: 'object',
  required: ['password'],
  additionalProperties: false,
  properties: { password },
} as const;

const changePasswordRequest = {
  $id: 'ChangePasswordRequest',
  type: 'object',
  required: ['password'],
  additionalProperties: false,
  properties: {
    password,
    // Optional in the schema so that its absence gets its own code (CURRENT_PASSWORD_REQUIRED).
    current_password: { type: 'string', maxLength: 1024, description: 'Your current password' },
  },
} as const;

const groupSchema = {
  $id: 'Group',
  type: 'object',
  required: ['name', 'privileges', 'members'],
  properties: { name: text, privileges, members: strings, created_at: time },
} as const;

const createGroupRequest = {
  $id: 'CreateGroupRequest',
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: resourceName, privileges },
} as const;

const privilegesRequest = {
  $id: 'PrivilegesRequest',
  type: 'object',
  required: ['privileges'],
  additionalProperties: false,
  properties: { privileges },
} as const;

const grantSchema = {
  $id: 'Grant',
  type: 'object',
  required: ['group', 'rights'],
  properties: { group: text, rights: strings },
} as const;

const grantList = {
  $id: 'GrantList',
  type: 'object',
  required: ['owner', 'grants', 'next_cursor'],
  properties: {
    owner: { type: ['string', 'null'], description: 'The user who created the resource, if any' },
    grants: { type: 'array', items: ref('Grant') },
    next_cursor: nextCursor,
    caller_may_change: {
      type: 'boolean',
      description:
        'Whether the caller may grant and take rights on the resource (`admin` on it), as those routes decide',
    },
  },
} as const;

/** Every shared schema, registered once on the app (components.schemas of the OpenAPI document). */
export const SHARED_SCHEMAS: readonly { readonly $id: string }[] = [
  errorSchema,
  oidcSettingsSchema,
  authSettingsSchema,
  authSettingsInputSchema,
  rateLimitSchema,
  deploymentSchema,
  listOf('DeploymentList', 'deployments', 'Deployment', 'Deployments the caller may see, by name', {
    caller_may_create: {
      type: 'boolean',
      description:
        'Whether the caller holds `deploy` on some service and some infrastructure (or may create them), so `POST /deployments` may allow it; the console offers "New deployment" only then',
    },
  }),
  createDeploymentRequest,
  createDeploymentResponse,
  updateDeploymentRequest,
  apiKeySchema,
  rolledApiKeySchema,
  listOf('ApiKeyList', 'api_keys', 'ApiKey', 'API keys (prefixes, never the keys), oldest first'),
  createApiKeysRequest,
  createdApiKeys,
  secretSchema,
  listOf('SecretList', 'secrets', 'Secret', 'Secrets the caller may see (names only), by name'),
  createSecretRequest,
  secretValueRequest,
  secretResult,
  catalogEntry('Infrastructure', 'Where deployments live (dev, prod, ...)'),
  listOf('InfrastructureList', 'infrastructures', 'Infrastructure', 'Infrastructures the caller may see, by name'),
  catalogEntry('Service', 'A model API; its versions are immutable'),
  listOf('ServiceList', 'services', 'Service', 'Services the caller may see, by name'),
  createCatalogEntryRequest,
  describeRequest,
  versionSchema,
  listOf('VersionList', 'versions', 'Version', 'A service’s versions, oldest first'),
  createVersionRequest,
  userSchema,
  listOf('UserList', 'users', 'User', 'Users, by username'),
  createUserRequest,
  passwordRequest,
  changePasswordRequest,
  groupSchema,
  listOf('GroupList', 'groups', 'Group', 'Groups, by name'),
  createGroupRequest,
  privilegesRequest,
  grantSchema,
  grantList,
];

const endpointAccessSchema = {
  $id: 'EndpointAccess',
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

const apiTokenProperties = {
  id: text,
  token: { type: 'string', description: 'The token itself: only in the answer that created it' },
  name: text,
  description: text,
  user: { type: 'string', description: "The owner's username" },
  prefix: { type: 'string', description: 'The first characters of the token, safe to show' },
  ops_access: { type: 'boolean', description: 'Developer Operations access: the management API, as the owner' },
  endpoint_access: { anyOf: [ref('EndpointAccess'), { type: 'null' }] },
  created_at: time,
  expires_at: time,
  rate_limit: nullableRateLimit("The token's own rate limit, counted on each deployment it calls; null for none"),
  ...credentialStateProperties('token'),
} as const;

const apiTokenSchema = {
  $id: 'ApiToken',
  type: 'object',
  description: 'A person’s API token (`mgt_`); the token itself only in the answer that created it.',
  required: ['id', 'name', 'prefix', 'ops_access', 'created_at', 'expires_at'],
  properties: apiTokenProperties,
} as const;

const rolledApiTokenSchema = {
  $id: 'RolledApiToken',
  type: 'object',
  description: 'A rolled token’s successor (shown once), naming its predecessor.',
  required: apiTokenSchema.required,
  properties: {
    ...apiTokenProperties,
    predecessor: predecessorProperty('token'),
  },
} as const;

const createApiTokenRequest = {
  $id: 'CreateApiTokenRequest',
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  description: 'At least one of `ops_access` and `endpoint_access`.',
  properties: {
    name: { type: 'string', maxLength: 128 },
    description: { type: 'string', maxLength: DESCRIPTION_MAX },
    ops_access: { type: 'boolean', description: 'Act on the management API with your permissions' },
    endpoint_access: { anyOf: [ref('EndpointAccess'), { type: 'null' }] },
    expires_at: { type: 'string', maxLength: 64, description: 'ISO-8601 date-time with a zone' },
    rate_limit: rateLimitInput(
      "The token's own limit (without `by`), within each deployment's per-caller one (it never lifts it)",
    ),
  },
} as const;

/** The body of `POST …/{id}/roll` (tokens and API keys, X2). */
const rollRequest = {
  $id: 'RollRequest',
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

/** Schemas of the API tokens routes (issue 11) and of rolling (X2). */
export const API_TOKEN_SCHEMAS: readonly { readonly $id: string }[] = [
  endpointAccessSchema,
  apiTokenSchema,
  rolledApiTokenSchema,
  listOf('ApiTokenList', 'tokens', 'ApiToken', 'API tokens (prefixes, never the tokens), oldest first'),
  createApiTokenRequest,
  rollRequest,
];
