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

// A random per-process prefix and a counter: unique across replicas and restarts for practical
// purposes, and cheap enough for the hot path (no CSPRNG call per request). Not a secret.
const PROCESS_PREFIX = randomBytes(6).toString('base64url');
let counter = 0;

export function newRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${PROCESS_PREFIX}${counter.toString(36).padStart(8, '0').slice(-8)}`;
}
