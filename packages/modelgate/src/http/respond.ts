import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode, errorBody } from '../kernel/errors.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/**
 * Writes the standard JSON error on a raw node:http response (the data plane and the metrics
 * listener; the management API goes through fastify's error handler, which builds the same body).
 *
 * @returns the body's length in bytes (0 when the response had begun and was cut instead).
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string,
  options: { message?: string; headers?: Record<string, string | string[]> } = {},
): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const body = JSON.stringify(errorBody(code, requestId, options.message));
  const length = Buffer.byteLength(body);
  res.writeHead(ERROR_CODES[code].status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': length,
    'cache-control': 'no-store',
    [REQUEST_ID_HEADER]: requestId,
    ...options.headers,
  });
  res.end(body);
  return length;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}
