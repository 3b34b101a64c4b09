import type { ServerResponse } from 'node:http';
import { ERROR_CODES, type ErrorCode, errorBody } from '../errors/registry.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/**
 * Writes the standard JSON error on a raw node:http response (the data plane and the metrics
 * listener; the management API goes through fastify's error handler, which builds the same body).
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  requestId: string,
  options: { message?: string; headers?: Record<string, string | string[]> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(code, requestId, options.message));
  res.writeHead(ERROR_CODES[code].status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    [REQUEST_ID_HEADER]: requestId,
    ...options.headers,
  });
  res.end(body);
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
