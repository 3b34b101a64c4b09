import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { createLogger } from '../src/log/logger.js';
import { startDemo } from '../src/node/demo.js';
import { CHROMIUM, CHROMIUM_ARGS, HAS_CHROMIUM } from './helpers/console-browser.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, userWithSession } from './helpers/people.js';

/**
 * Acceptance test of browser access (issue 11, acceptance 5): a real headless Chromium opens the
 * protected demo deployment, gets the sign-in page, signs in with a person's API token (`mgt_`,
 * Protected Endpoint access to the demo) and reaches the demo model; a wrong token, or an ops-only
 * token, shows an error and sets no cookie; another origin's form cannot sign it in; deleting the
 * token ends the browser's access on its next load.
 * Needs Debian's `chromium` (`.ci/run` installs it); skipped, saying so, only when it is absent.
 */

const TITLE = HAS_CHROMIUM
  ? 'browser access in headless Chromium'
  : `browser access in headless Chromium — SKIPPED: ${CHROMIUM} is absent (apt-get install -y chromium)`;

if (!HAS_CHROMIUM) console.warn(`${TITLE}: the acceptance test of browser access did not run`);

let t: TestNode;
let demo: { close(): Promise<void> };
/** The owner's session and an endpoint token of hers for the demo deployment. */
let session: string;
let apiToken: { id: string; token: string };
let attacker: Server;
let attackerUrl: string;
let profile: string;
let browser: BrowserContext;

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  beforeAll(async () => {
    t = await startTestNode();
    demo = await startDemo(t.node, createLogger({ level: 'silent', pretty: false }));
    // A person who may read the demo deployment makes a token for it, as in the console.
    const demoDeployment = (await manage(t, 'GET', '/deployments/demo')).body;
    expect((await manage(t, 'POST', '/groups', { name: 'demo-readers' })).status).toBe(201);
    const infraGrant = `/infrastructures/${demoDeployment.infrastructure}/grants/demo-readers`;
    expect((await manage(t, 'PUT', infraGrant, { rights: ['view'] })).status).toBeLessThan(300);
    const serviceGrant = `/services/${demoDeployment.service}/grants/demo-readers`;
    expect((await manage(t, 'PUT', serviceGrant, { rights: ['read'] })).status).toBeLessThan(300);
    session = await userWithSession(t, 'browser-user', ['demo-readers']);
    const made = await api(t, session, 'POST', '/tokens', {
      name: 'browser',
      ops_access: false,
      endpoint_access: { deployments: ['demo'] },
    });
    expect(made.status, made.text).toBe(201);
    apiToken = made.body;
    // Another origin (same host, other port) whose page submits the sign-in form on load: login CSRF.
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><form id="f" method="post" action="${t.node.urls.inference}/_modelgate/sign-in">
<input name="deployment" value="demo"><input name="return_to" value="/demo/models">
<input name="token" value="${apiToken.token}"></form><script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    profile = mkdtempSync(join(tmpdir(), 'modelgate-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    attacker?.closeAllConnections();
    await new Promise((resolve) => attacker?.close(resolve) ?? resolve(undefined));
    await demo?.close();
    await t?.close();
  });

  const tokenCookies = async () => (await browser.cookies()).filter((c) => c.name === 'modelgate_token');

  it('a wrong token shows an error and sets no cookie', async () => {
    const page = await browser.newPage();
    const first = await page.goto(`${t.node.urls.inference}/demo/models`);
    expect(first?.status()).toBe(401);
    expect(await page.locator('h1').textContent()).toBe('Sign in to demo');
    const wrong = generateCredential('api_token'); // well formed, never issued
    await page.fill('#token', wrong);
    await Promise.all([page.waitForURL('**/_modelgate/sign-in'), page.click('button[type=submit]')]);
    expect(await page.locator('.error').textContent()).toContain('CREDENTIAL_UNKNOWN');
    expect(await page.content()).not.toContain(wrong);
    expect(await tokenCookies()).toEqual([]);
    await page.close();
  });

  it('an ops-only API token shows why it cannot open the model, and sets no cookie', async () => {
    const opsOnly = await api(t, session, 'POST', '/tokens', { name: 'ops-only', ops_access: true });
    expect(opsOnly.status, opsOnly.text).toBe(201);
    const page = await browser.newPage();
    await page.goto(`${t.node.urls.inference}/demo/models`);
    await page.fill('#token', opsOnly.body.token);
    await Promise.all([page.waitForURL('**/_modelgate/sign-in'), page.click('button[type=submit]')]);
    const error = await page.locator('.error').textContent();
    expect(error).toContain('no Protected Endpoint access');
    expect(error).toContain('FORBIDDEN');
    expect(await page.content()).not.toContain(opsOnly.body.token);
    expect(await tokenCookies()).toEqual([]);
    await page.close();
  });

  it('another site’s auto-submitting form cannot sign the browser in', async () => {
    const page = await browser.newPage();
    const answered = page.waitForResponse((r) => r.url().endsWith('/_modelgate/sign-in'));
    await page.goto(attackerUrl);
    expect((await answered).status()).toBe(403);
    expect(await tokenCookies()).toEqual([]);
    await page.close();
  });

  it('signs in through the page and reaches the demo model at the page first asked for', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.node.urls.inference}/demo/models`);
    expect(await page.locator('p').first().textContent()).toContain('API token');
    await page.fill('#token', apiToken.token);
    await Promise.all([page.waitForURL('**/demo/models'), page.click('button[type=submit]')]);
    expect(JSON.parse((await page.locator('body').textContent()) ?? '')).toEqual({
      models: [{ modelName: 'sentiment', modelUrl: 'sentiment.mar' }],
    });
    const [cookie, ...others] = await tokenCookies();
    expect(others).toEqual([]);
    expect(cookie).toMatchObject({ path: '/demo', httpOnly: true, sameSite: 'Strict', secure: false, expires: -1 });
    // The model's own page scripts reach it with the cookie too (same origin), never seeing the token.
    const prediction = await page.evaluate(async () => {
      const res = await fetch('/demo/predictions/sentiment', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'I absolutely love it' }),
      });
      // Runs in the page: its `document` (the test's tsconfig has no DOM types).
      const { document } = globalThis as unknown as { document: { cookie: string } };
      return { status: res.status, body: (await res.json()) as { label: string }, visible: document.cookie };
    });
    expect(prediction.status).toBe(200);
    expect(prediction.body.label).toBe('positive');
    expect(prediction.visible).not.toContain('modelgate_token');
    await page.close();
  });

  it('deleting the API token refuses the cookie on the next load: the sign-in page again, cookie gone', async () => {
    expect((await api(t, session, 'DELETE', `/tokens/${apiToken.id}`)).status).toBe(204);
    const page = await browser.newPage();
    const res = await page.goto(`${t.node.urls.inference}/demo/models`);
    expect(res?.status()).toBe(401);
    expect(await page.locator('.error').textContent()).toContain('saved token was refused');
    expect(await tokenCookies()).toEqual([]);
    await page.close();
  });
});
