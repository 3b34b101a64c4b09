import { ERROR_STATUS, type ErrorCode } from './generated/error-codes.js';

export type { ErrorCode };

/**
 * Codes the SDK itself gives when an answer is not a modelgate error body:
 * `HTTP_ERROR` for any other non-2xx answer (a model server's own 4xx/5xx on an inference call),
 * `INVALID_RESPONSE` for a 2xx answer the SDK cannot read as promised (bad JSON, not an event
 * stream, an event larger than the limit).
 */
export type ClientErrorCode = 'HTTP_ERROR' | 'INVALID_RESPONSE';

/**
 * Whether a string is one of the server's documented error codes (docs/errors.md).
 *
 * @example
 * ```ts
 * isErrorCode('DEPLOYMENT_NOT_FOUND'); // true
 * isErrorCode('HTTP_ERROR');           // false: an SDK code, not a server one
 * ```
 */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/**
 * A failed call: the server's error body (`{"error":{"code","message","request_id"}}`) as a
 * typed error. `code` is one of the server's stable codes (see {@link ErrorCode}), an SDK code
 * ({@link ClientErrorCode}), or, from a newer server, a code this SDK does not know yet.
 * The message never contains the caller's credential.
 *
 * @example
 * ```ts
 * try {
 *   await client.deployments.get('nope');
 * } catch (err) {
 *   if (err instanceof ModelgateApiError && err.code === 'RESOURCE_NOT_FOUND') {
 *     console.log(err.status, err.requestId); // 404 '7f1c...'
 *   } else throw err;
 * }
 * ```
 */
export class ModelgateApiError extends Error {
  override readonly name = 'ModelgateApiError';
  /** The HTTP status of the answer (0 when the answer was unreadable after a 2xx status line). */
  readonly status: number;
  /** The stable error code. */
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  /** The server's request id (`X-Request-Id`), to quote when reporting a problem. */
  readonly requestId: string | undefined;
  /** Validation problems, one line each, when the server listed them. */
  readonly details: readonly string[] | undefined;
  /** The parsed error body as received (a model server's own error shape on inference calls). */
  readonly body: unknown;

  constructor(init: {
    status: number;
    code: ErrorCode | ClientErrorCode | (string & {});
    message: string;
    requestId?: string | undefined;
    details?: readonly string[] | undefined;
    body?: unknown;
  }) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.details = init.details;
    this.body = init.body;
  }
}

const CODE_SHAPE = /^[A-Z][A-Z0-9_]{0,63}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Builds the error for a non-2xx answer from its status, request id header and body text.
 * A modelgate body gives its code; anything else (a model server's own error) is `HTTP_ERROR`
 * with the body kept in `body`. `secret` (the credential sent) is cut out of the body before
 * anything is read from it, in case a server echoed it.
 */
export function errorFromResponse(
  status: number,
  requestIdHeader: string | null,
  text: string,
  secret: string | undefined,
): ModelgateApiError {
  const clean = redact(text, secret);
  let body: unknown = clean;
  try {
    body = clean === '' ? undefined : JSON.parse(clean);
  } catch {
    // Not JSON: keep the text.
  }
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const code = typeof error?.code === 'string' && CODE_SHAPE.test(error.code) ? error.code : undefined;
  const serverMessage = typeof error?.message === 'string' ? error.message : undefined;
  const requestId =
    (typeof error?.request_id === 'string' ? error.request_id : undefined) ?? requestIdHeader ?? undefined;
  const details =
    Array.isArray(error?.details) && error.details.every((d) => typeof d === 'string')
      ? (error.details as string[])
      : undefined;
  return new ModelgateApiError({
    status,
    code: code ?? 'HTTP_ERROR',
    message: serverMessage ?? `The server answered HTTP ${status}`,
    requestId,
    details,
    body,
  });
}

/** Removes every occurrence of the credential from a text meant for messages. */
export function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
