import { scrubCredentials } from './credential.js';

/**
 * The one registry of error codes. Every error a user can see (an HTTP error body or a CLI
 * failure) carries one of these codes; `docs/errors.md` documents each, and a test fails when
 * one is missing there. Codes are stable: rename never, add freely.
 *
 * @example
 * ```ts
 * throw new ModelgateError('CREDENTIAL_EXPIRED');
 * // → 401 {"error":{"code":"CREDENTIAL_EXPIRED","message":"The credential has expired","request_id":"..."}}
 * ```
 */
export const ERROR_CODES = {
  // Request shape
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  VALIDATION_FAILED: { status: 400, message: 'The request failed validation' },
  TOKEN_TYPE_INVALID: {
    status: 400,
    message: 'Query parameter type must be "management" or "inference"',
  },
  PATH_INVALID: { status: 400, message: 'The request path is not allowed' },
  BODY_NOT_ALLOWED: { status: 400, message: 'This method does not take a request body' },
  HEADER_DUPLICATED: { status: 400, message: 'A header that must appear once was sent more than once' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  FORWARD_AUTH_HEADERS_MISSING: {
    status: 400,
    message: 'The decision request does not say which request it asks about (method and URI headers)',
  },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },

  // Authentication (401) and authorization (403)
  CREDENTIAL_MISSING: { status: 401, message: 'A credential is required' },
  CREDENTIAL_MALFORMED: { status: 401, message: 'The credential is malformed' },
  CREDENTIAL_AMBIGUOUS: { status: 401, message: 'More than one Authorization header was sent' },
  CREDENTIAL_UNKNOWN: { status: 401, message: 'The credential is not valid' },
  CREDENTIAL_EXPIRED: { status: 401, message: 'The credential has expired' },
  CREDENTIAL_REVOKED: { status: 401, message: 'The credential has been revoked' },
  CREDENTIAL_TOO_LARGE: { status: 401, message: 'The Authorization header is larger than any credential' },
  FORBIDDEN: { status: 403, message: 'The credential does not grant access to this resource' },
  CROSS_ORIGIN_REFUSED: {
    status: 403,
    message: 'Another site may not change the management API while token authorization is disabled',
  },
  FORM_CROSS_SITE: {
    status: 403,
    message: "A sign-in or sign-out form must be sent from the gateway's own page (same-origin Origin)",
  },
  HOST_NOT_ALLOWED: { status: 421, message: 'The Host header does not name this listener' },
  THROTTLED: { status: 429, message: 'Too many requests; retry later' },
  RATE_LIMITED: { status: 429, message: 'This credential or deployment is over its rate limit; retry later' },
  SIGN_IN_FAILED: { status: 401, message: 'Unknown username or wrong password' },
  CSRF_REJECTED: {
    status: 403,
    message: 'A write authenticated by the session cookie needs a same-origin Origin or an X-Modelgate-CSRF header',
  },
  USER_REQUIRED: {
    status: 403,
    message: 'Only a signed-in user (a session or an API token with ops access) can do this',
  },
  CLI_LOGIN_REFUSED: {
    status: 400,
    message:
      'The login code is unknown, used already, expired, or does not match its verifier: run `modelgate login --web` again',
  },
  TOKEN_ACCESS_REQUIRED: {
    status: 400,
    message: 'An API token needs at least one access type: ops_access or endpoint_access',
  },
  PASSWORD_REJECTED: { status: 400, message: 'The password does not meet the password rules' },
  CURRENT_PASSWORD_REQUIRED: {
    status: 400,
    message: 'Changing your own password needs your current password (current_password)',
  },
  CURRENT_PASSWORD_WRONG: { status: 403, message: 'The current password is wrong; nothing changed' },
  PASSWORD_WRONG_ROUTE: {
    status: 403,
    message:
      'Your own password is changed with your current one (PUT /api/v1/users/{you}/password); another user’s is reset by a global admin (POST /api/v1/users/{username}/password-reset)',
  },

  // Permissions (403): the code names the missing right; a target the caller may not read is 404
  MISSING_GLOBAL_ADMIN: { status: 403, message: 'This needs the global admin privilege' },
  MISSING_GLOBAL_CREATE_SERVICE: { status: 403, message: 'This needs the create_service privilege' },
  MISSING_INFRASTRUCTURE_VIEW: { status: 403, message: 'This needs the view right on the infrastructure' },
  MISSING_INFRASTRUCTURE_DEPLOY: { status: 403, message: 'This needs the deploy right on the infrastructure' },
  MISSING_INFRASTRUCTURE_ADMIN: { status: 403, message: 'This needs the admin right on the infrastructure' },
  MISSING_SERVICE_READ: { status: 403, message: 'This needs the read right on the service' },
  MISSING_SERVICE_WRITE: { status: 403, message: 'This needs the write right on the service' },
  MISSING_SERVICE_DEPLOY: { status: 403, message: 'This needs the deploy right on the service' },
  MISSING_SERVICE_ADMIN: { status: 403, message: 'This needs the admin right on the service' },
  MISSING_SECRET_USE: { status: 403, message: 'This needs the use right on the secret' },
  MISSING_SECRET_ADMIN: { status: 403, message: 'This needs the admin right on the secret' },
  FORWARD_AUTH_UNTRUSTED: {
    status: 403,
    message: 'The decision endpoints answer only proxies listed in trusted_proxies',
  },

  // Control plane resources
  RESOURCE_NOT_FOUND: { status: 404, message: 'The resource does not exist' },
  RESOURCE_CONFLICT: { status: 409, message: 'The resource already exists' },
  RESOURCE_IN_USE: { status: 409, message: 'The resource is still in use' },
  CREDENTIAL_ALREADY_ROLLED: {
    status: 409,
    message: 'The credential was rolled already; roll its successor instead',
  },
  WRITE_CONFLICT: { status: 409, message: 'A concurrent change conflicted with this one; retry' },

  // Data plane
  DEPLOYMENT_NOT_FOUND: { status: 404, message: 'No such deployment' },
  DEPLOYMENT_DISABLED: { status: 503, message: 'The deployment is disabled' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'The model server could not be reached' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The model server did not answer in time' },

  // Node state
  NOT_READY: { status: 503, message: 'The node is not ready' },
  SHUTTING_DOWN: { status: 503, message: 'The node is shutting down' },
  INTERNAL: { status: 500, message: 'Internal error' },

  // Process level (CLI exit codes rather than HTTP)
  CONFIG_INVALID: { status: 0, exitCode: 2, message: 'The configuration is invalid' },
  ADDRESS_IN_USE: { status: 0, exitCode: 1, message: 'An address is already in use' },
  STORE_UNAVAILABLE: { status: 0, exitCode: 1, message: 'The store could not be opened' },
  FILE_UNSAFE: { status: 0, exitCode: 1, message: 'A file the node trusts could have been planted or read by others' },
  STORE_NOT_FOUND: { status: 0, exitCode: 1, message: 'No store where the command looked' },
  NODE_RUNNING: { status: 0, exitCode: 1, message: 'Another modelgate node uses this key file' },
  MASTER_KEY_MISMATCH: { status: 0, exitCode: 1, message: "The master key does not open this store's sealed data" },
  CLI_USAGE: { status: 0, exitCode: 2, message: 'The command was used wrongly' },
  CLI_REQUEST_FAILED: { status: 0, exitCode: 1, message: 'The management API refused the request' },
  CLI_NO_CREDENTIAL: { status: 0, exitCode: 1, message: 'No credential found for the CLI' },
  CLI_TLS_UNTRUSTED: { status: 0, exitCode: 1, message: "The management API's TLS certificate is not trusted" },
  CLI_CONTEXT_NOT_FOUND: { status: 0, exitCode: 1, message: 'No such login context' },
  CLI_CONTEXTS_FILE_INVALID: { status: 0, exitCode: 1, message: 'The login contexts file cannot be read' },
  APPLY_FILE_INVALID: { status: 0, exitCode: 2, message: 'The declarative file cannot be applied' },
  APPLY_REFERENCE_UNKNOWN: {
    status: 0,
    exitCode: 2,
    message: 'The declarative file names a user, group or resource that is neither in the file nor on the node',
  },
} as const satisfies Record<string, { status: number; message: string; exitCode?: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * An error with a stable code. `message` is public (safe to show a caller); never put a
 * credential or secret in it.
 *
 * @example
 * ```ts
 * throw new ModelgateError('RESOURCE_NOT_FOUND', 'No deployment named "demo"');
 * ```
 */
export class ModelgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: readonly string[] | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** The offending request field of a validation error (`upstream`, `auth.api_keys`, `limit`). */
  readonly field: string | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { details?: readonly string[]; headers?: Record<string, string>; field?: string | undefined } = {},
  ) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'ModelgateError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details;
    this.headers = options.headers;
    this.field = options.field;
  }

  /** Exit status for a process-level failure (config, bind, store). */
  get exitCode(): number {
    const entry = ERROR_CODES[this.code];
    return 'exitCode' in entry ? entry.exitCode : 1;
  }
}

/** The JSON body every HTTP error uses, on both planes. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; details?: readonly string[]; field?: string };
}

/** Builds the public error body; the only way error JSON is produced. */
export function errorBody(
  code: ErrorCode,
  requestId: string,
  message?: string,
  details?: readonly string[],
  field?: string,
): ErrorBody {
  // Messages may quote what a caller typed; a credential in it is never echoed back.
  const text = message === undefined ? ERROR_CODES[code].message : scrubCredentials(message);
  const body: ErrorBody = { error: { code, message: text, request_id: requestId } };
  if (details && details.length > 0) body.error.details = details.map(scrubCredentials);
  if (field !== undefined) body.error.field = field;
  return body;
}
