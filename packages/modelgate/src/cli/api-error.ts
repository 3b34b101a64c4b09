import { ModelgateError } from '../kernel/errors.js';

/**
 * A request the management API refused, with its HTTP status and error code, so a command can
 * explain a case it knows (an existing deployment, say) instead of echoing the API. The CLI shows
 * the API's own code (`RESOURCE_CONFLICT`), one code per error line; `CLI_REQUEST_FAILED` only when
 * the answer carried none.
 *
 * @example
 * ```ts
 * if (err instanceof ApiRequestError && err.httpStatus === 409) console.error(err.shownCode);
 * ```
 */
export class ApiRequestError extends ModelgateError {
  constructor(
    readonly httpStatus: number,
    readonly apiCode: string | undefined,
    message: string,
    details?: readonly string[],
  ) {
    super('CLI_REQUEST_FAILED', message, details && details.length > 0 ? { details } : {});
  }

  /** The code printed for this failure. */
  get shownCode(): string {
    return this.apiCode ?? this.code;
  }
}
