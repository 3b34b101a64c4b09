import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleWorld,
  consoleContext,
  expectAccessible,
  fillSignIn,
  HAS_CHROMIUM,
  startConsoleWorld,
} from './helpers/console-browser.js';
import { runCli, tempDir } from './helpers/node-process.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * `modelgate login --web` (issue 19, acceptance 3): the CLI prints the console's approval address
 * and waits on a loopback port (RFC 8252); the test plays the user in Chromium (signs in, approves);
 * the browser brings a one-time code back to the CLI, which exchanges it with its PKCE verifier for
 * the API token and saves the context. Also: a wrong state is refused by the CLI, a code is good
 * once and only with its verifier, a denial saves nothing.
 */

const TITLE = HAS_CHROMIUM ? 'login --web' : 'login --web — SKIPPED: /usr/bin/chromium is absent';
const USER = 'web-user';
const PASSWORD = `${GOOD_PASSWORD} ${USER}`;
const CHALLENGE_OF_VERIFIER = {
  // RFC 7636 appendix B.
  verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
};

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  let world: ConsoleWorld;
  let endpoint: string;

  beforeAll(async () => {
    world = await startConsoleWorld('web-admin');
    endpoint = world.t.node.urls.management;
    const made = await api(world.t, world.t.keys.management, 'POST', '/users', { username: USER, password: PASSWORD });
    expect(made.status).toBe(201);
  }, 60_000);
  afterAll(() => world?.close());

  it('a code is exchanged once, only with its PKCE verifier, and only a user approves', async () => {
    const t = world.t;
    const session = await signIn(t, USER, PASSWORD);
    const approve = (credential: string) =>
      api(t, credential, 'POST', '/cli-login/approve', {
        code_challenge: CHALLENGE_OF_VERIFIER.challenge,
        token: { name: 'pkce', ops_access: true },
      });
    expect((await approve(t.keys.management)).body.error.code).toBe('USER_REQUIRED');
    const { code } = (await approve(session)).body;
    const wrong = await api(t, undefined, 'POST', '/cli-login/token', {
      code,
      code_verifier: 'x'.repeat(43),
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe('CLI_LOGIN_REFUSED');
    // Spent by the failed try: the right verifier now gets nothing either.
    const late = await api(t, undefined, 'POST', '/cli-login/token', {
      code,
      code_verifier: CHALLENGE_OF_VERIFIER.verifier,
    });
    expect(late.body.error.code).toBe('CLI_LOGIN_REFUSED');
    const second = (await approve(session)).body.code;
    const made = await api(t, undefined, 'POST', '/cli-login/token', {
      code: second,
      code_verifier: CHALLENGE_OF_VERIFIER.verifier,
    });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'pkce', ops_access: true, user: USER });
    expect((await api(t, made.body.token, 'GET', '/whoami')).body).toMatchObject({ kind: 'user', user: USER });
    const again = await api(t, undefined, 'POST', '/cli-login/token', {
      code: second,
      code_verifier: CHALLENGE_OF_VERIFIER.verifier,
    });
    expect(again.body.error.code).toBe('CLI_LOGIN_REFUSED');
  });

  it('the CLI prints the address; the user signs in and approves in Chromium; the CLI saves a working token', async () => {
    const xdg = tempDir('modelgate-xdg-');
    const cli = runCli(['login', '--web', '--endpoint', endpoint, '--context', 'web', '--token-name', 'laptop'], {
      env: { XDG_CONFIG_HOME: xdg },
    });
    try {
      const url = (await cli.waitFor(/\/console\/cli-login\?/)).trim();
      const params = new URL(url).searchParams;
      expect(params.get('name')).toBe('laptop');
      expect(params.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Another page on this machine cannot hand the CLI a code: it does not know the state.
      const port = params.get('port');
      const forged = await fetch(`http://127.0.0.1:${port}/callback?code=forged&state=guess`);
      expect(forged.status).toBe(400);

      const { context } = await consoleContext(world.browser);
      const page = await context.newPage();
      await page.goto(url);
      await fillSignIn(page, USER, PASSWORD);
      const form = page.getByRole('form', { name: 'Approve the CLI login' });
      await form.waitFor();
      expect(await form.textContent()).toContain(USER);
      expect(await form.getByLabel('Token name').inputValue()).toBe('laptop');
      await expectAccessible(page, 'CLI login approval');
      await form.getByRole('button', { name: 'Approve' }).click();
      await page.getByRole('heading', { name: 'Logged in' }).waitFor();
      expect(page.url()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/callback\\?code=`));

      expect(await cli.exited).toBe(0);
      expect(cli.output()).toContain(`Logged in to ${endpoint} as user "${USER}"`);
      const saved = JSON.parse(readFileSync(join(xdg, 'modelgate', 'contexts.json'), 'utf8'));
      const token = saved.contexts.find((c: { name: string }) => c.name === 'web').api_token as string;
      expect(token).toMatch(/^mgt_/);
      // Never in the browser: not in the page, not in its address.
      expect(await page.content()).not.toContain(token);
      expect(page.url()).not.toContain(token);
      expect(cli.output()).not.toContain(token);
      const me = await api(world.t, token, 'GET', '/whoami');
      expect(me.body).toMatchObject({ kind: 'user', user: USER });
      const tokens = (await api(world.t, token, 'GET', '/tokens')).body.tokens;
      expect(tokens.map((x: { name: string }) => x.name)).toContain('laptop');
      await context.close();
    } finally {
      await cli.stop();
    }
  });

  it('denied in the browser: the CLI says so and saves nothing', async () => {
    const xdg = tempDir('modelgate-xdg-');
    const cli = runCli(['login', '--web', '--endpoint', endpoint, '--context', 'nope'], {
      env: { XDG_CONFIG_HOME: xdg },
    });
    try {
      const url = (await cli.waitFor(/\/console\/cli-login\?/)).trim();
      const { context } = await consoleContext(world.browser);
      const page = await context.newPage();
      await page.goto(url);
      await fillSignIn(page, USER, PASSWORD);
      await page.getByRole('button', { name: 'Deny' }).click();
      await page.getByRole('heading', { name: 'Login denied' }).waitFor();
      expect(await cli.exited).not.toBe(0);
      expect(cli.output()).toContain('denied');
      expect(() => readFileSync(join(xdg, 'modelgate', 'contexts.json'))).toThrow();
      await context.close();
    } finally {
      await cli.stop();
    }
  });
});
