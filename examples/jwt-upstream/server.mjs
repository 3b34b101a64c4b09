#!/usr/bin/env node
/**
 * A model server that trusts no one, not even the gateway: it verifies the platform JWT that
 * modelgate forwards (a deployment with `forward_credential: true`) against the node's public
 * JWKS, and checks that the token's claim covers the deployment the gateway says it is serving.
 *
 *   MODELGATE_JWKS_URL=http://127.0.0.1:8080/.well-known/jwks.json PORT=9000 node server.mjs
 *
 * Plain Node and `jose`; nothing modelgate-specific is imported.
 */
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * Builds the request handler. `jwksUrl` is the node's `/.well-known/jwks.json` (inference or
 * management listener); `issuer` is the node's `jwt_issuer` (default `modelgate`).
 */
export function createHandler({ jwksUrl, issuer = 'modelgate' }) {
  // Cached; an unknown kid (after `modelgate signing-keys rotate`) refetches, at most every 30 s.
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  return async (req, res) => {
    const answer = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const match = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(req.headers.authorization ?? '');
    if (!match) return answer(401, { error: 'a forwarded platform JWT is required' });
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1], jwks, {
        issuer,
        audience: 'modelgate:inference',
        typ: 'modelgate+jwt',
        algorithms: ['EdDSA', 'ES256'],
      }));
    } catch {
      return answer(401, { error: 'invalid token' });
    }
    // The gateway always names the deployment it is serving; the token must cover it.
    const claim = payload.modelgate_claim ?? {};
    const infrastructure = req.headers['x-modelgate-infrastructure-id'];
    const deployment = req.headers['x-modelgate-deployment-id'];
    const covers =
      claim.infrastructure_id === infrastructure &&
      (claim.deployment_id === undefined || claim.deployment_id === deployment);
    if (!covers) return answer(403, { error: 'the token is for another deployment' });
    req.resume();
    answer(200, { ok: true, sub: payload.sub, jti: payload.jti, deployment: claim.deployment ?? null });
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const jwksUrl = process.env.MODELGATE_JWKS_URL ?? 'http://127.0.0.1:8080/.well-known/jwks.json';
  const port = Number(process.env.PORT ?? 9000);
  createServer(createHandler({ jwksUrl, issuer: process.env.MODELGATE_JWT_ISSUER })).listen(port, '127.0.0.1', () => {
    console.log(`verifying forwarded platform JWTs against ${jwksUrl} on http://127.0.0.1:${port}`);
  });
}
