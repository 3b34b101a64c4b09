import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The request's id: the caller's `X-Request-Id` when it is short and plain (so traces join up
 * across proxies), otherwise a fresh random one. Never trust it for anything but correlation.
 */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && SAFE_ID.test(given)) return given;
  return newRequestId();
}

export function newRequestId(): string {
  return randomBytes(12).toString('base64url');
}
