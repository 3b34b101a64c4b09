import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { rawRequest } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * Issue 17, defect 10: two `modelgate_session` cookies are ambiguous on the management listener,
 * as two `modelgate_token` cookies are on the data plane (a sibling host can plant a second one
 * for the parent domain, so "take the first" would let it choose who the browser is).
 */
let t: TestNode;
let alice: string;
let bob: string;

beforeAll(async () => {
  t = await startTestNode();
  for (const name of ['alice', 'bob']) {
    await api(t, t.keys.management, 'POST', '/users', { username: name, password: `${GOOD_PASSWORD} ${name}` });
  }
  alice = await signIn(t, 'alice', `${GOOD_PASSWORD} alice`);
  bob = await signIn(t, 'bob', `${GOOD_PASSWORD} bob`);
});
afterAll(() => t?.close());

/** `GET /api/v1/whoami` with these `Cookie` header lines, as sent (fetch would merge them). */
function whoami(cookieLines: readonly string[]) {
  return rawRequest(
    t.node.urls.management,
    'GET /api/v1/whoami HTTP/1.1',
    cookieLines.map((c) => `Cookie: ${c}`),
  );
}

describe('the session cookie on the management listener', () => {
  it('one cookie signs in, among other cookies and beside a cleared (empty) one', async () => {
    for (const lines of [
      [`modelgate_session=${alice}`],
      [`theme=dark; modelgate_session=${alice}; lang=en`],
      ['theme=dark', `modelgate_session=${alice}`],
      [`modelgate_session=; modelgate_session=${alice}`],
    ]) {
      const res = await whoami(lines);
      expect(res.status, lines.join(' | ')).toBe(200);
      expect(JSON.parse(res.body).user).toBe('alice');
    }
  });

  const bogus = generateCredential('user_session');
  const cases: [string, () => string[]][] = [
    ['the same value twice in one header', () => [`modelgate_session=${alice}; modelgate_session=${alice}`]],
    ['two users in one header', () => [`modelgate_session=${alice}; modelgate_session=${bob}`]],
    ['two users, the other order', () => [`modelgate_session=${bob}; modelgate_session=${alice}`]],
    ['a valid one then a bogus one', () => [`modelgate_session=${alice}; modelgate_session=${bogus}`]],
    ['a bogus one then a valid one', () => [`modelgate_session=${bogus}; modelgate_session=${alice}`]],
    ['a non-credential then a valid one', () => [`modelgate_session=x; modelgate_session=${alice}`]],
    ['two Cookie headers, two users', () => [`modelgate_session=${bob}`, `modelgate_session=${alice}`]],
    ['two Cookie headers, the same value', () => [`modelgate_session=${alice}`, `a=1; modelgate_session=${alice}`]],
  ];
  for (const [name, lines] of cases) {
    it(`refuses ${name}: 401 CREDENTIAL_AMBIGUOUS, nobody signed in, no credential echoed`, async () => {
      const res = await whoami(lines());
      expect(res.status).toBe(401);
      const body = JSON.parse(res.body);
      expect(body.error.code).toBe('CREDENTIAL_AMBIGUOUS');
      expect(body.error.message).toMatch(/modelgate_session/);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
      for (const token of [alice, bob, bogus]) expect(res.body).not.toContain(token);
    });
  }

  it('a write with two cookies changes nothing', async () => {
    const res = await api(
      t,
      undefined,
      'POST',
      '/secrets',
      { name: 'planted', value: 'twelve chars!' },
      {
        cookie: `modelgate_session=${alice}; modelgate_session=${alice}`,
        'x-modelgate-csrf': '1',
      },
    );
    expect(res.status).toBe(401);
    expect((await api(t, t.keys.management, 'GET', '/secrets')).text).not.toContain('planted');
  });
});
