import { createHmac, createPublicKey } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OIDC_JWKS_MAX_AGE_MS } from '../src/node/data-plane.js';
import { testClock } from './helpers/clock.js';
import { call } from './helpers/http.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

const AUDIENCE = 'https://model.example';
const SHORT = 'https://short.example';
const OTHER = 'https://other.example';
/** The provider's lifetime for tokens for SHORT. */
const SHORT_TTL_S = 60;
/** The node's `oidc_jwks_cooldown_s`. */
const COOLDOWN_MS = 30_000;

/**
 * A real OpenID provider (`oidc-provider`) in this process, issuing JWT access tokens by client
 * credentials with resource indicators. Its handler can be swapped for one with new keys
 * (rotation) or for a failing one (outage); it counts JWKS fetches.
 */
async function startIssuer() {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.end();
  const counts = { jwks: 0 };
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/jwks')) counts.jwks++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let current: { kid: string; privateKey: CryptoKey } | undefined;
  const use = async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(pair.privateKey)), kid: `k${Math.random().toString(36).slice(2)}`, alg: 'ES256' };
    current = { kid: jwk.kid, privateKey: pair.privateKey };
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'svc',
          client_secret: 'a-long-enough-client-secret-for-tests',
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_post',
          scope: 'predict other',
          id_token_signed_response_alg: 'ES256',
        },
      ],
      scopes: ['predict', 'other'],
      cookies: { keys: ['a-cookie-signing-key-for-tests'] },
      jwks: { keys: [jwk] },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, resource: string) => ({
            scope: 'predict other',
            audience: resource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: resource === SHORT ? SHORT_TTL_S : 300,
            jwt: { sign: { alg: 'ES256' } },
          }),
        },
      },
    } as never);
    handler = provider.callback() as typeof handler;
    return jwk.kid;
  };
  const token = async (scope: string, resource = AUDIENCE) => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: 'svc',
        client_secret: 'a-long-enough-client-secret-for-tests',
        scope,
        resource,
      }),
    });
    const body = (await res.json()) as { access_token: string };
    if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(body)}`);
    return body.access_token;
  };
  /**
   * A token with exactly these claims, signed with the provider's current (published) key: for
   * claims the provider itself would never write, such as an `iat` in the future.
   */
  const sign = (claims: Record<string, unknown>) => {
    if (!current) throw new Error('no key in use');
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: current.kid, typ: 'at+jwt' })
      .sign(current.privateKey);
  };
  const fail = () => {
    handler = (_q, s) => {
      s.statusCode = 503;
      s.end();
    };
  };
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { issuer, counts, use, token, sign, fail, close };
}

/**
 * The node runs on a test clock: expiry and the JWKS cooldown and max age are crossed by moving
 * it, not by sleeping. The provider stamps tokens with real time; the node's clock only ever
 * moves ahead of it.
 */
describe('external OAuth2/OIDC access tokens from a real provider (oidc-provider)', () => {
  const clock = testClock();
  const nowS = () => Math.floor(clock.now() / 1000);
  let t: TestNode;
  let up: TestUpstream;
  let idp: Awaited<ReturnType<typeof startIssuer>>;
  let otherIdp: Awaited<ReturnType<typeof startIssuer>>;

  beforeAll(async () => {
    idp = await startIssuer();
    otherIdp = await startIssuer();
    await idp.use();
    await otherIdp.use();
    t = await startTestNode(
      { failure_limit: '100000', oidc_jwks_cooldown_s: String(COOLDOWN_MS / 1000) },
      {},
      { clock: clock.now },
    );
    up = await recordingUpstream('up');
    const oidc = { issuer: idp.issuer, audiences: [AUDIENCE], required_scopes: ['predict'], algorithms: ['ES256'] };
    await deploy(t, { name: 'm', upstream: up.url, access: 'protected', auth: { oidc } });
    await deploy(t, {
      name: 'pinned',
      upstream: up.url,
      access: 'protected',
      auth: { oidc: { ...oidc, jwks_url: `${idp.issuer}/jwks` } },
    });
    await deploy(t, {
      name: 'short',
      upstream: up.url,
      access: 'protected',
      auth: { oidc: { ...oidc, audiences: [SHORT], clock_skew_s: 0 } },
    });
    await deploy(t, {
      name: 'claims',
      upstream: up.url,
      access: 'protected',
      auth: { oidc: { ...oidc, required_claims: { client_id: 'someone-else' } } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await idp?.close();
    await otherIdp?.close();
  });

  const model = (name: string, token: string) =>
    call(`${t.node.urls.inference}/${name}/predict`, { headers: { authorization: `Bearer ${token}` } });
  /** Claims `m` accepts, valid for two days by the node's clock. */
  const claims = (extra: Record<string, unknown>) => ({
    iss: idp.issuer,
    aud: AUDIENCE,
    scope: 'predict',
    sub: 'svc',
    exp: nowS() + 2 * 86_400,
    ...extra,
  });
  /** A token for `m` signed with a key the issuer never published, under `kid`. */
  const forged = async (kid: string) => {
    const pair = await generateKeyPair('ES256');
    return new SignJWT(claims({ iat: nowS() })).setProtectedHeader({ alg: 'ES256', kid }).sign(pair.privateKey);
  };

  it('a valid access token is accepted, by discovery and by a pinned JWKS URL', async () => {
    const token = await idp.token('predict');
    const res = await model('m', token);
    expect(res.status, res.text).toBe(200);
    expect((await model('pinned', token)).status).toBe(200);
    expect(up.hits.at(-1)?.headers['x-modelgate-principal']).toBe('external_jwt:svc');
  });

  it('a token for another audience is refused with 401', async () => {
    const res = await model('m', await idp.token('predict', OTHER));
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('CREDENTIAL_UNKNOWN');
  });

  it('a token from another issuer is refused with 401', async () => {
    expect((await model('m', await otherIdp.token('predict'))).status).toBe(401);
  });

  it('a token without the required scope is refused with 403', async () => {
    const res = await model('m', await idp.token('other'));
    expect(res.status).toBe(403);
    expect(res.json.error.code).toBe('FORBIDDEN');
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  it('a token without a required claim value is refused with 403', async () => {
    expect((await model('claims', await idp.token('predict'))).status).toBe(403);
  });

  it('an expired token is refused with 401 CREDENTIAL_EXPIRED, whether the gateway had cached it or not', async () => {
    const seen = await idp.token('predict', SHORT);
    const unseen = await idp.token('predict', SHORT);
    // Valid until its exp (the control), and so cached.
    expect((await model('short', seen)).status).toBe(200);
    // `short` allows no skew: one second past the provider's lifetime is past exp.
    clock.advance((SHORT_TTL_S + 1) * 1000);
    for (const token of [seen, unseen]) {
      const res = await model('short', token);
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('CREDENTIAL_EXPIRED');
    }
  });

  describe('iat (issue 17, defect 9): not in the future beyond clock_skew_s (60 s here)', () => {
    it('the provider’s key signs an accepted token when iat is now (the control)', async () => {
      const res = await model('m', await idp.sign(claims({ iat: nowS() })));
      expect(res.status, res.text).toBe(200);
    });

    it.each([
      ['an hour', 3600],
      ['a day', 86_400],
      ['just past the skew', 120],
    ])('iat %s in the future is refused with 401 CREDENTIAL_UNKNOWN', async (_label, ahead) => {
      const token = await idp.sign(claims({ iat: nowS() + ahead }));
      for (const deployment of ['m', 'pinned']) {
        const res = await model(deployment, token);
        expect(res.status, `${deployment}: ${res.text}`).toBe(401);
        expect(res.json.error.code).toBe('CREDENTIAL_UNKNOWN');
        expect(res.headers['www-authenticate']).toContain('invalid_token');
      }
      // Refused again, not admitted from a cache on a second try.
      expect((await model('m', token)).status).toBe(401);
    });

    it('iat within the skew is accepted (a provider whose clock runs a little ahead)', async () => {
      const res = await model('m', await idp.sign(claims({ iat: nowS() + 20 })));
      expect(res.status, res.text).toBe(200);
    });

    it('iat missing is accepted, as the README documents (only exp is required)', async () => {
      const res = await model('m', await idp.sign(claims({})));
      expect(res.status, res.text).toBe(200);
    });

    it.each([['"now"'], ['"1700000000"'], ['null'], ['true'], ['[1]'], ['{}']])(
      'a non-numeric iat (%s) is refused with 401',
      async (raw) => {
        const res = await model('m', await idp.sign(claims({ iat: JSON.parse(raw) })));
        expect(res.status, res.text).toBe(401);
        expect(res.json.error.code).toBe('CREDENTIAL_UNKNOWN');
      },
    );
  });

  it('a token forged with a key the issuer does not publish, or pointing at its own keys, is refused', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const claims = { iss: idp.issuer, aud: AUDIENCE, scope: 'predict', sub: 'svc' };
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'nope', jwk: await exportJWK(pair.publicKey) })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(pair.privateKey);
    expect((await model('m', forged)).status).toBe(401);
  });

  it('alg none, HS256 keyed with the issuer’s public key, and a jku header are refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = Buffer.from(
      JSON.stringify({ iss: idp.issuer, aud: AUDIENCE, scope: 'predict', sub: 'svc', iat: now, exp: now + 300 }),
    ).toString('base64url');
    const head = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    for (const alg of ['none', 'NONE', 'None']) {
      expect((await model('m', `${head({ alg })}.${claims}.AAAA`)).status).toBe(401);
    }
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    const publicJwk = jwks.keys[0]!;
    for (const secret of [
      JSON.stringify(publicJwk),
      createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }),
    ]) {
      const input = `${head({ alg: 'HS256', kid: publicJwk.kid })}.${claims}`;
      const signature = createHmac('sha256', secret).update(input).digest('base64url');
      expect((await model('m', `${input}.${signature}`)).status).toBe(401);
    }
    let connections = 0;
    const trap = createServer((_q, s) => {
      connections++;
      s.end('{"keys":[]}');
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    const pair = await generateKeyPair('ES256');
    const jku = `http://127.0.0.1:${(trap.address() as AddressInfo).port}/jwks`;
    const forged = await new SignJWT({ iss: idp.issuer, aud: AUDIENCE, scope: 'predict' })
      .setProtectedHeader({ alg: 'ES256', kid: 'trap', jku, x5u: jku })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(pair.privateKey);
    expect((await model('m', forged)).status).toBe(401);
    trap.close();
    expect(connections).toBe(0);
  });

  it('key rotation at the provider: new tokens are accepted after one refetch; unknown kids refetch at most once per cooldown', async () => {
    // The node holds the provider's current keys, and a cooldown ago it last asked for them.
    expect((await model('m', await idp.token('predict'))).status).toBe(200);
    clock.advance(COOLDOWN_MS);
    const fetchesBefore = idp.counts.jwks;
    // An unknown kid past the cooldown: one fetch, which starts a new cooldown.
    expect((await model('m', await forged('unknown-first'))).status).toBe(401);
    expect(idp.counts.jwks).toBe(fetchesBefore + 1);
    // The provider rotates within it: its new key is not asked for yet.
    await idp.use();
    const token = await idp.token('predict');
    expect((await model('m', token)).status).toBe(401);
    expect(idp.counts.jwks).toBe(fetchesBefore + 1);
    // Once the cooldown has passed, the same token is accepted after exactly one refetch.
    clock.advance(COOLDOWN_MS);
    expect((await model('m', token)).status).toBe(200);
    expect(idp.counts.jwks).toBe(fetchesBefore + 2);
    // A burst of unknown kids within the new cooldown causes no further fetch.
    for (let i = 0; i < 5; i++) expect((await model('m', await forged(`unknown-${i}`))).status).toBe(401);
    expect(idp.counts.jwks).toBe(fetchesBefore + 2);
  });

  it('a failing issuer: cached keys keep verifying, unknown keys are refused', async () => {
    const warm = await idp.token('predict');
    const fresh = await idp.token('predict');
    // The node holds the key that signed both (the control).
    expect((await model('m', warm)).status).toBe(200);
    clock.advance(COOLDOWN_MS);
    idp.fail();
    const fetchesBefore = idp.counts.jwks;
    // A token the node never saw, verified by the cached keys without asking the issuer.
    expect((await model('m', fresh)).status).toBe(200);
    expect(idp.counts.jwks).toBe(fetchesBefore);
    // An unknown kid past the cooldown: the node asks, the issuer fails, the token is refused.
    expect((await model('m', await forged('rotated-while-down'))).status).toBe(401);
    expect(idp.counts.jwks).toBe(fetchesBefore + 1);
    // Past the keys' maximum age a refresh is due on use; it fails, and the cached keys still verify.
    clock.advance(OIDC_JWKS_MAX_AGE_MS);
    expect((await model('m', await idp.sign(claims({ iat: nowS() })))).status).toBe(200);
    expect(idp.counts.jwks).toBe(fetchesBefore + 2);
  });
});
