import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleWorld,
  consoleContext,
  expectAccessible,
  HAS_CHROMIUM,
  launchChromium,
  openPage,
  pretendEverythingAllowed,
  signedInPage,
  signInWithPassword,
  startConsoleWorld,
  storageOf,
} from './helpers/console-browser.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';
import type { TestUpstream } from './helpers/upstreams.js';

/**
 * The console's other pages (issue 19) in headless Chromium against a real node: secrets and the
 * redeploy a new value needs, BentoCloud's API tokens page, Dataiku's people and grants, the audit
 * log; what a non-admin may not do is not offered, and a refusal shows the API's message; one whole
 * flow by keyboard alone; and a node with token authorization off. Effects are checked on the data
 * plane and the management API with real HTTP.
 */

const TITLE = HAS_CHROMIUM ? 'web console pages' : 'web console pages — SKIPPED: /usr/bin/chromium is absent';

const ADMIN = 'pages-admin';
const ADMIN_PASSWORD = `${GOOD_PASSWORD} ${ADMIN}`;
const basic = (password: string) => ({
  headers: { authorization: `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}` },
});

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  let t: TestNode;
  let browser: Browser;
  let upstream: TestUpstream;
  let origin: string;

  let world: ConsoleWorld;
  beforeAll(async () => {
    world = await startConsoleWorld(ADMIN, { usage_flush_interval_ms: '200' });
    ({ t, upstream, browser } = world);
    origin = t.node.urls.management;
  }, 60_000);
  afterAll(() => world?.close());

  const adminPage = () => signedInPage(world, ADMIN, ADMIN_PASSWORD);

  it('secrets: a new value shows which deployments need a redeploy; the gateway keeps the old one until it', async () => {
    const { page, done } = await adminPage();
    await openPage(page, 'Secrets');
    await expectAccessible(page, 'secrets page');
    const form = page.getByRole('form', { name: 'New secret' });
    await form.getByLabel('Name', { exact: true }).fill('scoring-password');
    await form.getByLabel('Value', { exact: true }).fill('first password value');
    await form.getByRole('button', { name: 'Create secret' }).click();
    const row = page.getByRole('row', { name: /scoring-password/ });
    await expect.poll(() => row.textContent()).toContain('no deployment');
    const deployed = await manage(t, 'POST', '/deployments', {
      name: 'scoring',
      upstream: upstream.url,
      access: 'protected',
      auth: { basic_secret: 'scoring-password' },
    });
    expect(deployed.status).toBe(201);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Secrets' }).waitFor();
    await expect.poll(() => row.textContent()).toContain('scoring');
    expect(await row.textContent()).not.toContain('needs a redeploy');

    await row.getByRole('button', { name: 'Change value scoring-password' }).click();
    await page.getByLabel('New value', { exact: true }).fill('second password value');
    await page.getByRole('button', { name: 'Save value' }).click();
    await expect.poll(() => row.textContent()).toContain('needs a redeploy');
    expect(await page.content()).not.toContain('first password value');
    const url = `${t.node.urls.inference}/scoring/x`;
    expect((await fetch(url, basic('first password value'))).status).toBe(200);
    expect((await fetch(url, basic('second password value'))).status).toBe(401);

    await row.getByRole('button', { name: 'Redeploy scoring' }).click();
    await expect.poll(() => row.textContent()).not.toContain('needs a redeploy');
    expect((await fetch(url, basic('second password value'))).status).toBe(200);
    expect((await fetch(url, basic('first password value'))).status).toBe(401);
    await done();
  });

  it('people and access: a group granted in place (Dataiku’s table) lets its member see the deployment (the next test calls it)', async () => {
    await manage(t, 'POST', '/deployments', { name: 'ranking', upstream: upstream.url, access: 'protected' });
    const { page, done } = await adminPage();
    await openPage(page, 'People and access');
    await expectAccessible(page, 'people page');
    await page.getByLabel('Username', { exact: true }).fill('reader');
    await page.getByLabel('Initial password (12+ characters)').fill(`${GOOD_PASSWORD} reader`);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('row', { name: /^reader/ }).waitFor();
    await page.getByLabel('Group name').fill('readers');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByLabel('Username to add to readers').fill('reader');
    await page.getByRole('button', { name: 'Add to readers' }).click();
    await page.getByRole('button', { name: 'Remove reader from readers' }).waitFor();

    const readerSession = await signIn(t, 'reader', `${GOOD_PASSWORD} reader`);
    expect((await api(t, readerSession, 'GET', '/deployments/ranking')).status).toBe(404);

    // Infrastructure `default`: view; service `ranking`: read. Each a checkbox in the grants table.
    const authz = page.getByRole('region', { name: 'Authorization' });
    await authz.getByLabel('Infrastructure').selectOption('default');
    await authz.getByLabel(/Grant a group view on default/).fill('readers');
    await authz.getByRole('button', { name: 'Add group' }).click();
    await expect.poll(() => authz.getByLabel('readers: view').isChecked()).toBe(true);
    await authz.getByLabel('Grants on').selectOption('services');
    await authz.getByLabel('Service').selectOption('ranking');
    await authz.getByLabel(/Grant a group read on ranking/).fill('readers');
    await authz.getByRole('button', { name: 'Add group' }).click();
    await expect.poll(() => authz.getByLabel('readers: read').isChecked()).toBe(true);
    await expectAccessible(page, 'grants table');
    expect((await api(t, readerSession, 'GET', '/deployments/ranking')).status).toBe(200);
    // Unticked in place: gone again.
    await authz.getByLabel('readers: read').click(); // the last right: the grant goes, and its row
    await expect.poll(async () => (await api(t, readerSession, 'GET', '/deployments/ranking')).status).toBe(404);
    await authz.getByLabel('readers: read').waitFor({ state: 'detached' });
    await authz.getByLabel(/Grant a group read on ranking/).fill('readers');
    await authz.getByRole('button', { name: 'Add group' }).click();
    await expect.poll(() => authz.getByLabel('readers: read').isChecked()).toBe(true);
    await done();
  });

  it('a non-admin sees no admin pages, makes an API token (BentoCloud) that opens the deployment, and sees a refusal as its message', async () => {
    // After the test above: `reader` may read `ranking` (view + read), nothing more.
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    await signInWithPassword(page, origin, 'reader', `${GOOD_PASSWORD} reader`);
    const nav = page.getByRole('navigation', { name: 'Console' });
    expect(await nav.getByRole('link').allTextContents()).toEqual([
      'Deployments',
      'Secrets',
      'API tokens',
      'People and access', // the grants of what it may see, not users or groups
    ]);
    // It may read `ranking`, deploy nothing: the API says so, and the list offers no change.
    const row = page.getByRole('row', { name: /ranking/ });
    await row.waitFor();
    expect(await page.getByRole('main').getByRole('button').count()).toBe(0);

    // A change it forces (the console made to believe the API allows it) is refused, as its message.
    await pretendEverythingAllowed(page);
    await page.reload();
    await row.getByRole('button', { name: 'Disable ranking' }).click();
    const alert = page.getByRole('alert');
    await expect.poll(() => alert.textContent()).toBe('This needs the deploy right on the service');
    expect((await manage(t, 'GET', '/deployments/ranking')).body.enabled).toBe(true);
    await page.unrouteAll();

    // On the deployment's page, only what the API says a reader may do: issue a JWT, not change it.
    await row.getByRole('link', { name: 'ranking', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Deployment ranking' }).waitFor();
    await page.getByRole('button', { name: 'Issue JWT' }).waitFor();
    for (const name of ['Edit', 'Redeploy', 'Disable', 'Delete', 'Create API key', /^Revoke/]) {
      expect(await page.getByRole('button', { name }).count(), String(name)).toBe(0);
    }
    expect((await manage(t, 'GET', '/deployments/ranking')).body.caller_may_deploy).toBe(true);
    await page.goBack();

    await openPage(page, 'API tokens');
    await expectAccessible(page, 'API tokens page');
    const form = page.getByRole('form', { name: 'New API token' });
    await form.getByLabel('Name', { exact: true }).fill('ranking-client');
    await form.getByLabel('Description (optional)').fill('calls ranking');
    await form.getByLabel('These deployments:').check();
    await form.getByLabel('ranking', { exact: true }).check();
    await form.getByRole('button', { name: 'Create API token' }).click();
    const once = page.getByRole('region', { name: 'API token ranking-client' });
    const token = await once.getByRole('textbox').inputValue();
    expect(token).toMatch(/^mgt_/);
    const url = `${t.node.urls.inference}/ranking/v1`;
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    await once.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(token);
    expect(await storageOf(page)).toEqual({ local: 0, session: 0, cookies: '' });
    const tokenRow = page.getByRole('row', { name: /ranking-client/ });
    await expect.poll(() => tokenRow.textContent()).toContain('Protected Endpoints: ranking');
    await expect
      .poll(async () => {
        await page.reload();
        await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
        return tokenRow.textContent();
      })
      .not.toContain('never'); // last used is shown once the data plane has written it

    await tokenRow.getByRole('button', { name: 'Delete ranking-client' }).click();
    await page.getByRole('dialog').getByLabel('Name').fill('ranking-client');
    await page.getByRole('dialog').getByRole('button', { name: 'Delete API token' }).click();
    await page.getByText('No API tokens yet.').waitFor();
    expect((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });

  it('audit log: filtered by action, target and outcome, with the non-admin’s refused disable', async () => {
    const { page, done } = await adminPage();
    await openPage(page, 'Audit log');
    await expectAccessible(page, 'audit page');
    await page.getByLabel('Action (deployment.*)').fill('deployment.disable');
    await page.getByLabel('Target', { exact: true }).fill('ranking');
    await page.getByLabel('Outcome').selectOption('denied');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.getByRole('row');
    await expect.poll(() => rows.count()).toBe(2); // the header and the one refusal
    const text = (await rows.nth(1).textContent()) ?? '';
    expect(text).toContain('ranking');
    expect(text).toContain('denied');
    expect(text).toContain('MISSING_SERVICE_DEPLOY');
    expect(text).toContain('403');

    // Live follow: a change made elsewhere appears without a reload.
    await page.getByLabel('Action (deployment.*)').fill('deployment.*');
    await page.getByLabel('Outcome').selectOption('allowed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByLabel(/Live follow/).check();
    const before = await rows.count();
    expect((await manage(t, 'POST', '/deployments/ranking/redeploy')).status).toBe(200);
    await expect.poll(() => rows.count(), { timeout: 8000 }).toBe(before + 1);
    expect(await rows.nth(1).textContent()).toContain('redeploy');
    await done();
  });

  it('keyboard only: sign in, create a public deployment, and open it, without the mouse', async () => {
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    await page.goto(`${origin}/console/`);
    await page.getByRole('heading', { name: 'Sign in to modelgate' }).waitFor();
    const kb = page.keyboard;
    // The heading has the focus; Tab walks the form in order.
    await kb.press('Tab');
    await kb.type(ADMIN);
    await kb.press('Tab');
    await kb.type(ADMIN_PASSWORD);
    await kb.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    const focusedName = () => page.evaluate('document.activeElement && document.activeElement.textContent');
    for (let i = 0; i < 20 && (await focusedName()) !== 'New deployment'; i++) await kb.press('Tab');
    expect(await focusedName()).toBe('New deployment');
    await kb.press('Enter');
    await page.getByLabel('Name', { exact: true }).waitFor();
    await page.keyboard.press('Tab'); // into the name field
    const focusedId = () => page.evaluate('document.activeElement && document.activeElement.id');
    for (let i = 0; i < 10 && (await focusedId()) !== 'dep-name'; i++) await kb.press('Tab');
    await kb.type('keyboard');
    await kb.press('Tab');
    await kb.type(upstream.url);
    // To the Advanced options summary, open it, pick Public with the arrow keys.
    for (
      let i = 0;
      i < 10 && (await page.evaluate('document.activeElement && document.activeElement.tagName')) !== 'SUMMARY';
      i++
    )
      await kb.press('Tab');
    await kb.press('Enter');
    await kb.press('Tab');
    await kb.press('ArrowDown');
    expect(await page.getByLabel('Public: anyone who can reach the gateway').isChecked()).toBe(true);
    for (let i = 0; i < 20 && (await focusedName()) !== 'Create deployment'; i++) await kb.press('Tab');
    await kb.press('Enter');
    await page.getByRole('status').getByText('Deployment keyboard created').waitFor();
    expect((await fetch(`${t.node.urls.inference}/keyboard/hello`)).status).toBe(200);
    // Into the deployment's page by its link.
    for (let i = 0; i < 30 && (await focusedName()) !== 'keyboard'; i++) await kb.press('Tab');
    await kb.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Deployment keyboard' }).waitFor();
    expect(offOrigin(origin)).toEqual([]);
    await context.close();
  });
});

describe.skipIf(!HAS_CHROMIUM)(`${TITLE}: token authorization off`, () => {
  let t: TestNode;
  let browser: Browser;

  beforeAll(async () => {
    [t, browser] = await Promise.all([startTestNode({ disable_token_authorization: true }), launchChromium()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('opens without a sign-in, says the node is open, offers no sign-out, and still works', async () => {
    const { context, offOrigin } = await consoleContext(browser);
    const page = await context.newPage();
    await page.goto(`${t.node.urls.management}/console/`);
    await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    expect(await page.getByTestId('whoami').textContent()).toContain('token authorization is off');
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    await page.getByRole('button', { name: 'New deployment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('open-one');
    await page.getByLabel('Upstream URL (the model server)').fill('http://127.0.0.1:9/');
    await page.getByRole('button', { name: 'Create deployment' }).click();
    await page.getByRole('status').getByText('Deployment open-one created').waitFor();
    expect((await api(t, undefined, 'GET', '/deployments/open-one')).status).toBe(200);
    await expectAccessible(page, 'deployments page, node open');
    expect(offOrigin(t.node.urls.management)).toEqual([]);
    await context.close();
  });
});
