import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitForAudit } from './helpers/audit.js';
import { storeFor } from './helpers/backends.js';
import { call } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * Issue 17, defect 5: changing one's own password needs the current one (OWASP ASVS 5.0 V6), so
 * a stolen session or API token is not an account takeover, and wrong guesses are throttled like
 * sign-ins. A global admin resets someone else's password without it, on its own route, audited
 * as `user.password_reset`.
 */

const LIMIT = 5;
const pw = (label: string) => `${GOOD_PASSWORD} ${label}`;

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`password change and reset on ${dialect}`, () => {
    let t: TestNode;
    let drop: (() => Promise<void>) | undefined;
    let m: string;
    let admin: string;

    beforeAll(async () => {
      const store = await storeFor(dialect);
      drop = store.drop;
      t = await startTestNode({ ...store.overrides, failure_limit: String(LIMIT), failure_window_s: '600' });
      m = t.keys.management;
      await api(t, m, 'POST', '/groups', { name: 'admins', privileges: ['admin'] });
      await api(t, m, 'POST', '/users', { username: 'root', password: pw('root'), groups: ['admins'] });
      admin = await signIn(t, 'root', pw('root'));
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await drop?.();
    });

    /** A fresh user with two sessions (the one that acts, and another). */
    async function person(name: string) {
      expect((await api(t, m, 'POST', '/users', { username: name, password: pw(name) })).status).toBe(201);
      return { acting: await signIn(t, name, pw(name)), other: await signIn(t, name, pw(name)) };
    }
    /**
     * Each test sends its password checks from a loopback address of its own: failures count per
     * address as well as per username, and one test's must not lock another's out.
     */
    let address = '127.0.0.1';
    let lane = 10;
    beforeEach(() => {
      address = `127.0.0.${lane++}`;
    });
    const signInStatus = async (name: string, password: string) =>
      (
        await call(`${t.node.urls.management}/api/v1/sessions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: name, password }),
          localAddress: address,
        })
      ).status;
    /** `GET /whoami`'s status: a refused credential counts against the address too. */
    const whoami = async (token: string) =>
      (
        await call(`${t.node.urls.management}/api/v1/whoami`, {
          headers: { authorization: `Bearer ${token}` },
          localAddress: address,
        })
      ).status;
    /** `PUT /users/{name}/password`. */
    const change = (token: string, name: string, body: unknown, localAddress = address) =>
      call(`${t.node.urls.management}/api/v1/users/${name}/password`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        localAddress,
      });

    const credentials: Record<string, (name: string, session: string) => Promise<string>> = {
      session: async (_name, session) => session,
      'ops API token': async (_name, session) => {
        const made = await api(t, session, 'POST', '/tokens', { name: 'stolen', ops_access: true });
        expect(made.status, made.text).toBe(201);
        return made.body.token;
      },
    };
    for (const [kind, credentialOf] of Object.entries(credentials)) {
      it(`self-change through a ${kind}: missing or wrong current password refused, the right one changes it`, async () => {
        const name = `self-${kind.replaceAll(' ', '-').toLowerCase()}`;
        const { acting, other } = await person(name);
        const token = await credentialOf(name, acting);

        const missing = await change(token, name, { password: pw('new') });
        expect(missing.status).toBe(400);
        expect(missing.json.error.code).toBe('CURRENT_PASSWORD_REQUIRED');
        const wrong = await change(token, name, { password: pw('new'), current_password: pw('guess') });
        expect(wrong.status).toBe(403);
        expect(wrong.json.error.code).toBe('CURRENT_PASSWORD_WRONG');
        expect(wrong.text).not.toContain('guess');
        for (const refused of [missing, wrong]) expect(refused.text).not.toContain(pw(name));
        // Nothing changed: the old password still signs in, the other session still works.
        expect(await signInStatus(name, pw(name))).toBe(201);
        expect(await whoami(other)).toBe(200);

        const right = await change(token, name, { password: pw('new'), current_password: pw(name) });
        expect(right.status, right.text).toBe(204);
        expect(await signInStatus(name, pw(name))).toBe(401);
        expect(await signInStatus(name, pw('new'))).toBe(201);
        // Its other sessions end (a session that changes it keeps itself).
        expect(await whoami(other)).toBe(401);
        // The credential that changed it keeps working: a session keeps itself, an API token is
        // not a session (tokens are revoked on their own, `modelgate tokens delete`).
        expect(await whoami(token)).toBe(200);
        if (kind !== 'session') expect(await whoami(acting)).toBe(401);
        // A bad body shape is a 400, never a 500.
        const bad = await change(token, name, { password: pw('x'), current_password: 42 });
        expect(bad.status).toBe(400);
      });
    }

    it('wrong current passwords are throttled like sign-ins: a stolen token is no guessing oracle', async () => {
      const name = 'guessed';
      const { acting } = await person(name);
      for (let i = 0; i < LIMIT; i++) {
        const res = await change(acting, name, { password: pw('new'), current_password: `${pw('try')} ${i}` });
        expect(res.status).toBe(403);
      }
      // Locked now, even for the right password, and the per-username lock holds from any address.
      const locked = await change(acting, name, { password: pw('new'), current_password: pw(name) });
      expect(locked.status).toBe(429);
      expect(locked.json.error.code).toBe('THROTTLED');
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
      const elsewhere = await change(acting, name, { password: pw('new'), current_password: pw(name) }, '127.0.0.99');
      expect(elsewhere.status).toBe(429);
      expect(await signInStatus(name, pw(name))).toBe(429);
      // The password did not change.
      expect(await signInStatus(name, pw('new'))).toBe(429);
      expect(elsewhere.text).not.toContain(pw(name));
    });

    it('a global admin resets another user without the current password; all its sessions end; audited as a reset', async () => {
      for (const [label, token] of [
        ['admin user', () => admin],
        ['management key', () => m],
      ] as const) {
        const name = `reset-${label.split(' ')[0]}`;
        const { acting, other } = await person(name);
        const res = await api(t, token(), 'POST', `/users/${name}/password-reset`, { password: pw('reset') });
        expect(res.status, res.text).toBe(204);
        expect(await whoami(acting)).toBe(401);
        expect(await whoami(other)).toBe(401);
        expect(await signInStatus(name, pw(name))).toBe(401);
        expect(await signInStatus(name, pw('reset'))).toBe(201);
        const rows = await waitForAudit(t, 'action=user.password_reset', (r) => r.some((x) => x.target_name === name));
        expect(rows.find((x) => x.target_name === name)).toMatchObject({ outcome: 'allowed', target_kind: 'user' });
      }
      const self = await waitForAudit(t, 'action=user.password', (r) =>
        r.some((x) => x.target_name === 'self-session'),
      );
      expect(self.every((x) => x.action === 'user.password')).toBe(true);
    });

    it('an admin changing its own password follows the self-change rules; reset is for others only', async () => {
      const missing = await change(admin, 'root', { password: pw('root2') });
      expect(missing.status).toBe(400);
      expect(missing.json.error.code).toBe('CURRENT_PASSWORD_REQUIRED');
      const ownReset = await api(t, admin, 'POST', '/users/root/password-reset', { password: pw('root2') });
      expect(ownReset.status).toBe(403);
      expect(ownReset.body.error.code).toBe('PASSWORD_WRONG_ROUTE');
      expect(await signInStatus('root', pw('root'))).toBe(201);
      const right = await change(admin, 'root', { password: pw('root2'), current_password: pw('root') });
      expect(right.status).toBe(204);
      expect(await signInStatus('root', pw('root2'))).toBe(201);
    });

    it('nobody changes another user’s password through the self-change route, and only admins reset', async () => {
      const { acting: mallory } = await person('mallory');
      await person('victim');
      for (const token of [mallory, admin, m]) {
        const res = await change(token, 'victim', { password: pw('pwned'), current_password: pw('mallory') });
        expect(res.status).toBe(403);
        expect(res.json.error.code).toBe('PASSWORD_WRONG_ROUTE');
      }
      const reset = await api(t, mallory, 'POST', '/users/victim/password-reset', { password: pw('pwned') });
      expect(reset.status).toBe(403);
      expect(reset.body.error.code).toBe('MISSING_GLOBAL_ADMIN');
      expect(await signInStatus('victim', pw('victim'))).toBe(201);
      expect(await signInStatus('victim', pw('pwned'))).toBe(401);
      const unknown = await api(t, m, 'POST', '/users/nobody-here/password-reset', { password: pw('x') });
      expect(unknown.status).toBe(404);
      const weak = await api(t, m, 'POST', '/users/victim/password-reset', { password: 'password1234' });
      expect(weak.status).toBe(400);
    });
  });
}
