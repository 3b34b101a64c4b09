import type { ServerResponse } from 'node:http';

/** Where both listeners publish the platform JWT verification keys. */
export const JWKS_PATH = '/.well-known/jwks.json';

/** How long a verifier may cache the JWKS; it refetches on an unknown `kid` anyway. */
export const JWKS_CACHE_CONTROL = 'public, max-age=300';

/**
 * Answers `GET /.well-known/jwks.json` on the data plane (public, no credential): the keys an
 * upstream needs to verify a forwarded platform JWT itself (S5).
 *
 * @returns whether the path was the JWKS and has been answered.
 */
export function answerJwks(path: string, res: ServerResponse, source: { publicJwks(): object }): boolean {
  if (path !== JWKS_PATH) return false;
  const body = JSON.stringify(source.publicJwks());
  res.writeHead(200, {
    'content-type': 'application/jwk-set+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': JWKS_CACHE_CONTROL,
  });
  res.end(body);
  return true;
}
