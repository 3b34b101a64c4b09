import { createHmac, createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../src/store/secrets/seal.js';
import { call } from './helpers/http.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * The bad-input suite for platform JWTs: an attacker who knows the public JWKS (and for some
 * cases holds the node's private key, to prove a check does not rest on the signature alone).
 * Every case is a 401 with a registry code, never a 500, and the node keeps serving.
 */
describe.each(['Ed25519', 'ES256'] as const)('hostile platform JWTs (%s keys)', (algorithm) => {
  let t: TestNode;
  let up: TestUpstream;
  let trap: Server;
  let trapConnections = 0;
  let trapUrl: string;
  let kid: string;
  let alg: string;
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let valid: string;

  beforeAll(async () => {
    t = await startTestNode({ failure_limit: '100000', jwt_signing_algorithm: algorithm });
    up = await recordingUpstream('up');
    await deploy(t, { name: 'a', upstream: up.url, access: 'protected' });
    await deploy(t, { name: 'b', upstream: up.url, access: 'protected' });
    const row = await t.node.store.db.selectFrom('signing_keys').selectAll().executeTakeFirstOrThrow();
    kid = row.kid;
    alg = row.alg;
    privateKey = createPrivateKey({
      key: JSON.parse(open(t.node.control.masterKey, row.private_sealed, `signing_key:${kid}`)),
      format: 'jwk',
    });
    publicKey = createPublicKey({ key: JSON.parse(row.public_jwk), format: 'jwk' });
    trap = createServer((socket) => {
      trapConnections++;
      socket.destroy();
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', r));
    trapUrl = `http://127.0.0.1:${(trap.address() as { port: number }).port}/jwks.json`;
    const res = await fetch(`${t.node.urls.management}/api/v1/issue-jwt?deployment=a`, {
      headers: { authorization: `Bearer ${t.keys.management}` },
    });
    valid = ((await res.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    trap?.close();
  });

  const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64url');
  const header = (extra: Record<string, unknown> = {}) => ({ alg, kid, typ: 'modelgate+jwt', ...extra });
  const claims = (extra: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const base = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    return { ...base, iat: now, exp: now + 600, ...extra };
  };
  /** Signs exact header and payload text with the node's own key (node:crypto, no jose). */
  const signText = (headerText: string, payloadText: string, key: KeyObject = privateKey) => {
    const input = `${b64(headerText)}.${b64(payloadText)}`;
    const signature =
      key.asymmetricKeyType === 'ec'
        ? cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
        : cryptoSign(null, Buffer.from(input), key);
    return `${input}.${signature.toString('base64url')}`;
  };
  const signed = (h: Record<string, unknown>, p: Record<string, unknown>) =>
    signText(JSON.stringify(h), JSON.stringify(p));
  const hmac = (h: Record<string, unknown>, secret: Buffer | string) => {
    const input = `${b64(JSON.stringify(h))}.${b64(JSON.stringify(claims()))}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };

  const refused = async (token: string, expectedCode?: string) => {
    const res = await call(`${t.node.urls.inference}/a/predict`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, res.text).toBe(401);
    expect(res.json?.error?.code).toMatch(/^CREDENTIAL_/);
    if (expectedCode) expect(res.json.error.code).toBe(expectedCode);
    expect(res.headers['www-authenticate']).toBeDefined();
  };

  it('the control case: the token the node issued, and my self-signed copy of it, are accepted', async () => {
    expect((await call(`${t.node.urls.inference}/a/x`, { headers: { authorization: `Bearer ${valid}` } })).status).toBe(
      200,
    );
    const mine = signed(header(), claims());
    expect((await call(`${t.node.urls.inference}/a/x`, { headers: { authorization: `Bearer ${mine}` } })).status).toBe(
      200,
    );
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('alg %s is refused, with or without a signature', async (none) => {
    const unsigned = `${b64(JSON.stringify(header({ alg: none })))}.${b64(JSON.stringify(claims()))}`;
    await refused(`${unsigned}.`);
    await refused(`${unsigned}.AAAA`);
    await refused(`${unsigned.replace(/\.[^.]*$/, '')}.${valid.split('.')[2]}`);
  });

  it('HS256 signed with the public key as PEM, JWK or DER is refused', async () => {
    const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const jwk = JSON.stringify(publicKey.export({ format: 'jwk' }));
    for (const secret of [pem, pem.trim(), der, jwk, Buffer.from(der).toString('base64')]) {
      await refused(hmac(header({ alg: 'HS256' }), secret));
      await refused(hmac({ alg: 'HS256', typ: 'modelgate+jwt' }, secret));
    }
  });

  it('an embedded jwk is never trusted', async () => {
    const attacker = await generateKeyPair(alg, {
      crv: algorithm === 'ES256' ? 'P-256' : 'Ed25519',
      extractable: true,
    });
    const jwk = await exportJWK(attacker.publicKey);
    const forged = await new SignJWT(claims())
      .setProtectedHeader({ alg, typ: 'modelgate+jwt', jwk })
      .sign(attacker.privateKey);
    await refused(forged);
    const withKid = await new SignJWT(claims())
      .setProtectedHeader({ alg, kid, typ: 'modelgate+jwt', jwk })
      .sign(attacker.privateKey);
    await refused(withKid);
    // Even the node's own signature does not make a key-carrying header acceptable.
    await refused(signed(header({ jwk: publicKey.export({ format: 'jwk' }) }), claims()));
  });

  it('jku and x5u pointing at a local listener are not followed: it sees no connection', async () => {
    const attacker = await generateKeyPair(alg, {
      crv: algorithm === 'ES256' ? 'P-256' : 'Ed25519',
      extractable: true,
    });
    for (const pointer of ['jku', 'x5u']) {
      const forged = await new SignJWT(claims())
        .setProtectedHeader({ alg, kid: 'attacker', typ: 'modelgate+jwt', [pointer]: trapUrl })
        .sign(attacker.privateKey);
      await refused(forged);
      await refused(signed(header({ [pointer]: trapUrl }), claims()));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(trapConnections).toBe(0);
  });

  it.each([['../../dev/null'], ["' OR 1=1 --"], [42], [{ $ne: null }], [''], ['x'.repeat(5000)], [null]])(
    'kid %j is refused',
    async (badKid) => {
      await refused(signed(header({ kid: badKid }), claims()));
    },
  );

  it('stripped, zeroed and truncated signatures are refused', async () => {
    const [h, p, s] = valid.split('.') as [string, string, string];
    await refused(`${h}.${p}.`);
    await refused(`${h}.${p}`);
    const zero = Buffer.alloc(Buffer.from(s, 'base64url').length).toString('base64url');
    await refused(`${h}.${p}.${zero}`);
    await refused(`${h}.${p}.${s.slice(0, -4)}`);
    await refused(
      `${h}.${b64(JSON.stringify(claims({ modelgate_claim: { infrastructure_id: 'x', infrastructure: 'x' } })))}.${s}`,
    );
  });

  it('ES256 with r = s = 0 is refused (psychic signatures)', async () => {
    const zero = Buffer.alloc(64).toString('base64url');
    const headerText = JSON.stringify(header({ alg: 'ES256' }));
    await refused(`${b64(headerText)}.${b64(JSON.stringify(claims()))}.${zero}`);
    const der = Buffer.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]).toString('base64url');
    await refused(`${b64(headerText)}.${b64(JSON.stringify(claims()))}.${der}`);
  });

  it('two or four segments are refused', async () => {
    const [h, p, s] = valid.split('.') as [string, string, string];
    await refused(`${h}.${p}`);
    await refused(`${h}.${p}.${s}.${s}`);
    await refused(`${h}.${p}.${s}.`);
    await refused(`${h}..${s}`);
  });

  it('padding and characters outside base64url are refused', async () => {
    const [h, p, s] = valid.split('.') as [string, string, string];
    await refused(`${h}.${p}.${s}==`);
    await refused(`${h}=.${p}.${s}`);
    await refused(`${h}.${p.replaceAll('-', '+').replaceAll('_', '/')}+/.${s}`);
    await refused(`${h}.${p}.${s.slice(0, -1)}~`);
    const res = await call(`${t.node.urls.inference}/a/x`, { headers: { authorization: `Bearer ${h}.${p}.${s}*` } });
    expect(res.status).toBe(401);
  });

  it('crit with unknown entries is refused even under the node’s signature', async () => {
    await refused(signed(header({ crit: ['x-unknown'], 'x-unknown': true }), claims()));
    await refused(signed(header({ crit: ['exp'] }), claims()));
    await refused(signed(header({ crit: [] }), claims()));
  });

  it.each([
    ['exp as a string', { exp: String(Math.floor(Date.now() / 1000) + 600) }],
    ['exp huge', { exp: 1e300 }],
    ['exp beyond the longest lifetime', { exp: Math.floor(Date.now() / 1000) + 10 * 365 * 86400 }],
    ['nbf as a string', { nbf: '0' }],
    ['nbf huge', { nbf: 1e300 }],
    ['iat in the future', { iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 7200 }],
    ['iat as a string', { iat: 'now' }],
    ['exp missing', { exp: undefined }],
    ['jti missing', { jti: undefined }],
    ['wrong audience', { aud: 'someone-else' }],
    ['wrong issuer', { iss: 'https://evil.example' }],
    ['no scope claim', { modelgate_claim: undefined }],
    ['scope claim as a list', { modelgate_claim: [{ infrastructure_id: 'x', infrastructure: 'x' }] }],
  ])('%s is refused even under the node’s signature', async (_name, extra) => {
    await refused(signed(header(), claims(extra)));
  });

  it('an expired token is CREDENTIAL_EXPIRED; another typ is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(signed(header(), claims({ iat: now - 7200, exp: now - 3600 })), 'CREDENTIAL_EXPIRED');
    await refused(signed(header({ typ: 'JWT' }), claims()));
    await refused(signed(header({ typ: 'at+jwt' }), claims()));
    await refused(signed(header({ typ: undefined }), claims()));
  });

  it('duplicate JSON keys are refused even under the node’s signature', async () => {
    const p = claims();
    const text = JSON.stringify(p);
    // The first reading (other parsers) says deployment b; JSON.parse would keep the last.
    const dup = `{"modelgate_claim":{"infrastructure_id":"x","infrastructure":"x"},${text.slice(1)}`;
    await refused(signText(JSON.stringify(header()), dup));
    const hdr = JSON.stringify(header());
    await refused(signText(`{"alg":"none",${hdr.slice(1)}`, text));
    // Whitespace the node never writes is refused as well (one canonical form only).
    await refused(signText(JSON.stringify(header(), null, 1), text));
  });

  it('a token over the size cap is refused, and so is a 12 KB one under node’s header limit', async () => {
    await refused(signed(header(), claims({ pad: 'x'.repeat(5000) })));
    await refused(`${'a'.repeat(7000)}.b.c`);
    await refused(`${'a'.repeat(12 * 1024)}.b.c`);
    await refused(signed(header(), claims({ pad: 'x'.repeat(12 * 1024) })));
  });

  it('a 1 MB token over a real socket is a 401 with a challenge on the inference and management listeners', async () => {
    const big = `${'a'.repeat(1024 * 1024)}.b.c`;
    const hitsBefore = up.hits.length;
    for (const url of [`${t.node.urls.inference}/a/x`, `${t.node.urls.management}/api/v1/whoami`]) {
      const res = await call(url, { headers: { authorization: `Bearer ${big}` } });
      expect(res.status, url).toBe(401);
      expect(res.json.error.code).toBe('CREDENTIAL_TOO_LARGE');
      expect(res.json.error.request_id).toBe(res.headers['x-request-id']);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="modelgate"/);
      expect(res.text).not.toContain('aaaa');
    }
    // Too large for another reason (a huge cookie): 431 with the same envelope.
    const cookie = await call(`${t.node.urls.inference}/a/x`, {
      headers: { authorization: `Bearer ${valid}`, cookie: `c=${'c'.repeat(20_000)}` },
    });
    expect(cookie.status).toBe(431);
    expect(cookie.json.error.code).toBe('HEADERS_TOO_LARGE');
    expect(cookie.headers['www-authenticate']).toBeUndefined();
    expect(up.hits.length).toBe(hitsBefore);
  });

  it('the node still serves the valid token after all of the above', async () => {
    const res = await call(`${t.node.urls.inference}/a/x`, { headers: { authorization: `Bearer ${valid}` } });
    expect(res.status).toBe(200);
  });
});
