import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_ASSETS_DIR, CONSOLE_CSP } from '../src/controlplane/api/routes/console.js';
import {
  type ConsoleWorld,
  consoleContext,
  expectAccessible,
  HAS_CHROMIUM,
  screenshot,
  signInWithPassword as signIn,
  signInWithToken,
  startConsoleWorld,
  storageOf,
} from './helpers/console-browser.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * The web console (issue 19) in headless Chromium against a real node: served at /console/ under
 * a strict CSP, signed in with a password (session cookie) or a pasted key (memory only), and
 * Gradient's flow: a protected Basic deployment made in the console, then checked on the data
 * plane with real HTTP. Every page is checked with axe-core and every request the pages make is
 * counted: none leaves the node's management origin.
 */

const TITLE = HAS_CHROMIUM ? 'web console' : 'web console — SKIPPED: /usr/bin/chromium is absent';
if (!HAS_CHROMIUM) console.warn(`${TITLE}: the console's browser tests did not run`);

const ADMIN = 'console-admin';
const ADMIN_PASSWORD = `${GOOD_PASSWORD} ${ADMIN}`;

describe('the console is served with a strict CSP', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(() => t?.close());

  it('/console/ and every path under it: the page, CSP with no unsafe-*, never framed, no credential needed', async () => {
    for (const path of ['/console/', '/console/deployments/some-name', '/console/audit']) {
      const res = await fetch(`${t.node.urls.management}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toBe(CONSOLE_CSP);
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const html = await res.text();
      // No inline script or style for the CSP to have to allow.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=/);
      expect(html).toContain(`<meta name="modelgate-inference" content="${t.node.urls.inference}" />`);
    }
  });

  it('assets under the CSP too, cached by their hashed names; unknown ones 404; /console redirects', async () => {
    const names = readdirSync(join(CONSOLE_ASSETS_DIR, 'assets'));
    expect(names.some((n) => n.endsWith('.js'))).toBe(true);
    for (const name of names) {
      const res = await fetch(`${t.node.urls.management}/console/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
      expect(res.headers.get('cache-control')).toContain('immutable');
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(CONSOLE_ASSETS_DIR, 'assets', name)))).toBe(
        true,
      );
    }
    for (const path of ['/console/assets/nope.js', '/console/assets/%2e%2e%2findex.html', '/console/assets/']) {
      const res = await fetch(`${t.node.urls.management}${path}`);
      expect([400, 404], path).toContain(res.status);
    }
    const redirect = await fetch(`${t.node.urls.management}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/console/');
  });

  it('a deployment’s last hour: requests, refusals by reason, p50 ≤ p99, counted by the gateway; readers only', async () => {
    const up = await recordingUpstream('traffic');
    try {
      expect(
        (await manage(t, 'POST', '/deployments', { name: 'counted', upstream: up.url, access: 'protected' })).status,
      ).toBe(201);
      const url = `${t.node.urls.inference}/counted/x`;
      for (let i = 0; i < 3; i++) {
        expect((await fetch(url, { headers: { authorization: `Bearer ${t.keys.inference}` } })).status).toBe(200);
      }
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: 'Bearer mgk_nonsense' } })).status).toBe(401);
      expect((await manage(t, 'POST', '/deployments/counted/disable')).status).toBe(200);
      expect((await fetch(url, { headers: { authorization: `Bearer ${t.keys.inference}` } })).status).toBe(503);
      const res = await manage(t, 'GET', '/deployments/counted/traffic');
      expect(res.status).toBe(200);
      expect(res.body.minutes).toHaveLength(60);
      const busy = res.body.minutes.filter((m: any) => m.requests > 0);
      const sum = (f: (m: any) => number) => busy.reduce((n: number, m: any) => n + f(m), 0);
      expect(sum((m) => m.requests)).toBe(6);
      const refused: Record<string, number> = {};
      for (const m of busy)
        for (const [r, n] of Object.entries(m.refused)) refused[r] = (refused[r] ?? 0) + (n as number);
      expect(refused).toEqual({ missing: 1, malformed: 1, unavailable: 1 });
      for (const m of busy) expect(m.p50_ms).toBeLessThanOrEqual(m.p99_ms);
      expect((await manage(t, 'GET', '/deployments/nope/traffic')).status).toBe(404);
      // Someone who may not read the deployment sees no traffic either (the 404 of a missing name).
      const user = await api(t, t.keys.management, 'POST', '/users', {
        username: 'outsider',
        password: `${GOOD_PASSWORD} o`,
      });
      expect(user.status).toBe(201);
      const session = (
        await api(t, undefined, 'POST', '/sessions', { username: 'outsider', password: `${GOOD_PASSWORD} o` })
      ).body.token;
      expect((await api(t, session, 'GET', '/deployments/counted/traffic')).status).toBe(404);
    } finally {
      await up.close();
    }
  });

  it('traffic_counts: false (the bench’s ring-off switch): the gateway serves as before and counts nothing', async () => {
    const off = await startTestNode({ traffic_counts: false });
    const up = await recordingUpstream('uncounted');
    try {
      expect(
        (await manage(off, 'POST', '/deployments', { name: 'uncounted', upstream: up.url, access: 'public' })).status,
      ).toBe(201);
      for (let i = 0; i < 3; i++) expect((await fetch(`${off.node.urls.inference}/uncounted/x`)).status).toBe(200);
      const res = await manage(off, 'GET', '/deployments/uncounted/traffic');
      expect(res.status).toBe(200);
      expect(res.body.minutes).toHaveLength(60);
      expect(res.body.minutes.reduce((n: number, m: { requests: number }) => n + m.requests, 0)).toBe(0);
    } finally {
      await up.close();
      await off.close();
    }
  });

  it('the console’s JavaScript is at most 150 KB gzipped', () => {
    const dir = join(CONSOLE_ASSETS_DIR, 'assets');
    const total = readdirSync(dir)
      .filter((n) => n.endsWith('.js'))
      .reduce((sum, n) => sum + gzipSync(readFileSync(join(dir, n))).length, 0);
    console.log(`console JavaScript: ${(total / 1024).toFixed(1)} KB gzipped`);
    expect(total).toBeGreaterThan(1000);
    expect(total).toBeLessThanOrEqual(150 * 1024);
  });
});

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  let t: TestNode;
  let browser: Browser;
  let upstream: TestUpstream;
  let origin: string;

  let world: ConsoleWorld;
  beforeAll(async () => {
    world = await startConsoleWorld(ADMIN);
    ({ t, upstream, browser } = world);
    origin = t.node.urls.management;
  }, 60_000);
  afterAll(() => world?.close());

  const signInWithPassword = (page: Page, username: string, password: string) =>
    signIn(page, origin, username, password);

  it('signs in with a password (HttpOnly cookie), names the user, signs out; the session is over on the node', async () => {
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    const started = Date.now();
    await page.goto(`${origin}/console/`);
    await page.getByRole('heading', { name: 'Sign in to modelgate' }).waitFor();
    console.log(`console sign-in page usable after ${Date.now() - started} ms (loopback)`);
    await expectAccessible(page, 'sign-in page');

    // A wrong password: the API's message, on the page.
    await page.getByLabel('Username', { exact: true }).fill(ADMIN);
    await page.getByLabel('Password', { exact: true }).fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Unknown username or wrong password');

    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    expect(await page.getByTestId('whoami').textContent()).toBe(`${ADMIN} (admin)`);
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'modelgate_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await storageOf(page)).toEqual({ local: 0, session: 0, cookies: '' });
    expect(page.url()).not.toContain('mgu_');
    expect(await page.content()).not.toContain(cookie!.value);
    await expectAccessible(page, 'deployments page');

    // A reload keeps the session (the cookie), and the node knows it.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    expect((await api(t, cookie!.value, 'GET', '/whoami')).status).toBe(200);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to modelgate' }).waitFor();
    expect((await api(t, cookie!.value, 'GET', '/whoami')).status).toBe(401);
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });

  it('signs in with a pasted key kept in memory only: not in storage, not in the URL, gone on reload', async () => {
    const { context, offOrigin, requests } = await consoleContext(browser);
    const page = await context.newPage();
    await signInWithToken(page, origin, t.keys.management);
    expect(await page.getByTestId('whoami').textContent()).toContain('management key');
    expect(await storageOf(page)).toEqual({ local: 0, session: 0, cookies: '' });
    expect(await page.content()).not.toContain(t.keys.management);
    expect(requests.some((u) => u.includes(t.keys.management))).toBe(false);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to modelgate' }).waitFor();
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });

  it('Gradient’s flow: a protected deployment with Basic from a new secret, made in Advanced options; 401 without, 200 with the password', async () => {
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    await signInWithPassword(page, ADMIN, ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'New deployment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('sentiment');
    await page.getByLabel('Upstream URL (the model server)').fill(upstream.url);
    await page.getByText('Advanced options').click();
    await page.getByLabel('Protected: callers must prove who they are').check();
    await page.getByLabel(/HTTP Basic/).check();
    await page.getByLabel('Secret holding the password').fill('sentiment-password');
    const password = 'a basic password typed in the console';
    await page.getByLabel('Password (empty: generate one)').fill(password);
    await screenshot(page, 'advanced-options');
    await expectAccessible(page, 'create form with Advanced options');
    await page.getByRole('button', { name: 'Create deployment' }).click();
    await page.getByRole('status').getByText('Deployment sentiment created').waitFor();
    const row = page.getByRole('row', { name: /sentiment/ });
    await expect.poll(() => row.textContent()).toContain('Basic');

    const url = `${t.node.urls.inference}/sentiment/predict`;
    const without = await fetch(url);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toContain('Basic');
    const basic = `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;
    const withPassword = await fetch(url, { headers: { authorization: basic } });
    expect(withPassword.status).toBe(200);
    expect(await withPassword.json()).toEqual({ upstream: 'model', path: '/predict' });
    const wrong = `Basic ${Buffer.from('modelgate:wrong').toString('base64')}`;
    expect((await fetch(url, { headers: { authorization: wrong } })).status).toBe(401);

    // Disable and enable from the list: the gateway follows at once.
    await row.getByRole('button', { name: 'Disable sentiment' }).click();
    await expect.poll(() => row.textContent()).toContain('disabled');
    expect((await fetch(url, { headers: { authorization: basic } })).status).toBe(503);
    await row.getByRole('button', { name: 'Enable sentiment' }).click();
    await expect.poll(() => row.textContent()).toContain('enabled');
    expect((await fetch(url, { headers: { authorization: basic } })).status).toBe(200);

    // Delete asks for the deployment's name before it acts.
    await row.getByRole('button', { name: 'Delete sentiment' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the deployment sentiment?' });
    await expectAccessible(page, 'delete confirmation');
    const confirm = dialog.getByRole('button', { name: 'Delete deployment' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Name').fill('sentimen');
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Name').fill('sentiment');
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByText('No deployments yet.').waitFor();
    expect((await fetch(url, { headers: { authorization: basic } })).status).toBe(404);
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });

  it('a deployment’s page: curl lines; API key made (shown once, copied), rolled, deleted; JWT issued and revoked; edited — each checked on the data plane', async () => {
    const made = await manage(t, 'POST', '/deployments', {
      name: 'chat',
      upstream: upstream.url,
      access: 'protected',
      auth: { api_keys: true },
    });
    expect(made.status).toBe(201);
    const url = `${t.node.urls.inference}/chat/v1/models`;
    const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    await signInWithPassword(page, ADMIN, ADMIN_PASSWORD);
    await page.getByRole('link', { name: 'chat', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Deployment chat' }).waitFor();
    const how = page.getByRole('region', { name: 'How to call it' });
    expect(await how.textContent()).toContain(
      `curl -H "Authorization: Bearer $API_KEY" ${t.node.urls.inference}/chat/`,
    );
    await expectAccessible(page, 'deployment page');

    // An API key: shown once, copied, works; the page forgets it on Done.
    const keys = page.getByRole('region', { name: 'API keys' });
    await keys.getByLabel('Description (optional)').fill('console key');
    await keys.getByRole('button', { name: 'Create API key' }).click();
    const once = keys.getByRole('region', { name: /New API key/ });
    const key = await once.getByRole('textbox').inputValue();
    expect(key).toMatch(/^mgk_/);
    await once.getByRole('button', { name: 'Copy' }).first().click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(key);
    expect((await fetch(url, bearer(key))).status).toBe(200);
    await once.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(key);
    expect(await storageOf(page)).toEqual({ local: 0, session: 0, cookies: '' });

    // Rolled without grace: the old key is refused at once, the successor works.
    await keys.getByLabel(/Grace when rolling/).fill('0');
    const row = keys.getByRole('row', { name: /console key/ }).first();
    await row.getByRole('button', { name: /^Roll/ }).click();
    const successor = await keys
      .getByRole('region', { name: /Successor of/ })
      .getByRole('textbox')
      .inputValue();
    expect(successor).toMatch(/^mgk_/);
    expect(successor).not.toBe(key);
    expect((await fetch(url, bearer(key))).status).toBe(401);
    expect((await fetch(url, bearer(successor))).status).toBe(200);
    await keys.getByRole('button', { name: 'Done' }).click();

    // Deleted after naming it: refused.
    // The list shows prefixes only: the successor's row is the one whose prefix starts it.
    const prefixes = (await keys.getByRole('rowheader').allTextContents()).map((p) => p.replace('…', ''));
    const shownPrefix = prefixes.find((p) => successor.startsWith(p))!;
    expect(shownPrefix.length).toBeGreaterThan(4);
    expect(key.startsWith(shownPrefix)).toBe(false);
    const successorRow = keys.getByRole('row', { name: new RegExp(`^${shownPrefix}`) });
    await successorRow.getByRole('button', { name: /^Delete/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill(shownPrefix);
    await dialog.getByRole('button', { name: 'Delete API key' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await fetch(url, bearer(successor))).status).toBe(401);

    // A platform JWT for this deployment: works until revoked.
    const jwts = page.getByRole('region', { name: 'Platform JWTs' });
    await jwts.getByRole('button', { name: 'Issue JWT' }).click();
    const jwt = await jwts
      .getByRole('region', { name: /Platform JWT/ })
      .getByRole('textbox')
      .inputValue();
    expect(jwt.split('.')).toHaveLength(3);
    expect((await fetch(url, bearer(jwt))).status).toBe(200);
    await jwts.getByRole('button', { name: 'Done' }).click();
    await jwts.getByRole('button', { name: 'Revoke every JWT issued for chat so far' }).click();
    await jwts.getByRole('status').waitFor();
    expect((await fetch(url, bearer(jwt))).status).toBe(401);

    // Edited to public: a new revision, open to anyone.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Public: anyone who can reach the gateway').check();
    await page.getByRole('button', { name: 'Save (new revision)' }).click();
    await expect.poll(() => page.locator('dl.facts').textContent()).toContain('public');
    expect((await fetch(url)).status).toBe(200);
    await page.getByRole('button', { name: 'Redeploy' }).click();
    await expect.poll(() => page.locator('dl.facts').textContent()).toMatch(/Revision3/);
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });

  it('the chart: the page shows the hour’s totals and refusals by reason, and draws them', async () => {
    const made = await manage(t, 'POST', '/deployments', { name: 'charted', upstream: upstream.url, access: 'public' });
    expect(made.status).toBe(201);
    const url = `${t.node.urls.inference}/charted/v1/models`;
    for (let i = 0; i < 5; i++) expect((await fetch(url)).status).toBe(200);
    expect((await manage(t, 'PATCH', '/deployments/charted', { access: 'protected' })).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await fetch(url)).status).toBe(401);
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    await signInWithPassword(page, ADMIN, ADMIN_PASSWORD);
    const row = page.getByRole('row', { name: /^charted/ });
    // The list's last-hour columns: requests, then refused (a row's cells follow its Name header cell).
    await row.waitFor();
    const requests = (await page.getByRole('columnheader').allTextContents()).indexOf('Requests (1 h)') - 1;
    await expect.poll(() => row.getByRole('cell').nth(requests).textContent()).toBe('7');
    expect(
      await row
        .getByRole('cell')
        .nth(requests + 1)
        .textContent(),
    ).toBe('2');
    await screenshot(page, 'deployments');
    await row.getByRole('link', { name: 'charted', exact: true }).click();
    const totals = page.getByTestId('traffic-totals');
    await expect.poll(() => totals.textContent()).toBe('7 requests, 2 refused (missing: 2).');
    const chart = page.getByRole('img', { name: /Requests per minute over the last hour/ });
    expect(await chart.getAttribute('aria-label')).toContain('2 refused');
    expect(await page.locator('svg.chart rect.refused').count()).toBeGreaterThan(0);
    await expectAccessible(page, 'deployment page with its chart');
    await screenshot(page, 'deployment-chart');
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });
});
