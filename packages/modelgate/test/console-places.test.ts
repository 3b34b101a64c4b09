import type { Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleWorld,
  expectAccessible,
  HAS_CHROMIUM,
  offeredControls,
  signedInPage,
  startConsoleWorld,
} from './helpers/console-browser.js';
import { manage, type TestNode } from './helpers/in-process-node.js';
import { GOOD_PASSWORD } from './helpers/people.js';

/**
 * Issue 19's grants on an infrastructure's and a service's own page, and the deployment settings
 * `auth.credentials` and `rate_limit` in the console, in Chromium against a real node, each
 * effect checked through the API and the data plane with real HTTP:
 * - an admin goes from a deployment to its service's page (its versions with their auth
 *   settings), ticks a right for a group, and the API holds the grant; the infrastructure's page
 *   is reached from the deployments list; a reader sees both tables as text, offered nothing;
 * - a deployment made through the form that accepts only platform JWTs, 2 per hour: the API
 *   shows both, its page shows what it admits and its limit, the inference key is refused, a JWT
 *   the console issued works twice and then gets 429; an edit PATCHes only what changed.
 */

const TITLE = HAS_CHROMIUM ? 'console places' : 'console places — SKIPPED: /usr/bin/chromium is absent';

const ADMIN = 'places-admin';
const password = (user: string) => `${GOOD_PASSWORD} ${user}`;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  let world: ConsoleWorld;
  let t: TestNode;

  beforeAll(async () => {
    world = await startConsoleWorld(ADMIN);
    t = world.t;
    const ok = async (status: Promise<{ status: number }>, expected: number) =>
      expect((await status).status).toBe(expected);
    await ok(manage(t, 'POST', '/secrets', { name: 'ranking-password', value: 'a ranking password' }), 201);
    await ok(
      manage(t, 'POST', '/deployments', {
        name: 'ranking',
        upstream: world.upstream.url,
        access: 'protected',
        auth: { basic_secret: 'ranking-password', api_keys: true },
      }),
      201,
    );
    await ok(manage(t, 'POST', '/groups', { name: 'readers' }), 201);
    await ok(manage(t, 'POST', '/groups', { name: 'editors' }), 201);
    await ok(
      manage(t, 'POST', '/users', { username: 'reader', password: password('reader'), groups: ['readers'] }),
      201,
    );
    await ok(manage(t, 'PUT', '/infrastructures/default/grants/readers', { rights: ['view'] }), 200);
    await ok(manage(t, 'PUT', '/services/ranking/grants/readers', { rights: ['read'] }), 200);
    await ok(manage(t, 'PUT', '/services/ranking/grants/editors', { rights: ['read'] }), 200);
  }, 60_000);
  afterAll(() => world?.close());

  const signedIn = (user: string) => signedInPage(world, user, password(user));

  /** From the deployments list to the deployment's page, then by its service's link to the service's page. */
  async function toServicePage(page: Page): Promise<void> {
    await page.getByRole('link', { name: 'ranking', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Deployment ranking' }).waitFor();
    await page.getByRole('link', { name: 'service ranking' }).click();
    await page.getByRole('heading', { level: 1, name: 'Service ranking' }).waitFor();
  }

  it('an admin reaches a service’s page from a deployment, sees its versions, and ticks a right that the API then holds', async () => {
    const { page, done } = await signedIn(ADMIN);
    await toServicePage(page);
    const versions = page.getByRole('table', { name: 'Versions of ranking' });
    await expect
      .poll(() => versions.getByRole('row', { name: /^1/ }).textContent())
      .toContain('Basic (secret ranking-password); API keys; every kind these turn on');
    const deployments = page.getByRole('table', { name: 'Deployments of ranking' });
    await deployments.getByRole('link', { name: 'ranking', exact: true }).waitFor();

    const grants = page.getByRole('table', { name: 'Grants on service ranking' });
    await grants.getByLabel('editors: deploy').click();
    await expect
      .poll(async () => (await manage(t, 'GET', '/services/ranking/grants')).body.grants)
      .toContainEqual({ group: 'editors', rights: ['read', 'deploy'] });
    await expect.poll(() => grants.getByLabel('editors: deploy').isChecked()).toBe(true);
    await expectAccessible(page, 'service page');

    // The infrastructure's page, from the deployments list: its grants, editable in place.
    await page.goto(`${t.node.urls.management}/console/deployments`);
    await page
      .getByRole('row', { name: /^ranking/ })
      .getByRole('link', { name: 'infrastructure default' })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Infrastructure default' }).waitFor();
    const infraGrants = page.getByRole('table', { name: 'Grants on infrastructure default' });
    await infraGrants.getByLabel('readers: view').waitFor();
    expect(await offeredControls(page)).toEqual(
      expect.arrayContaining(['checkbox: readers: deploy', 'form: Grant a group', 'Add group']),
    );
    await expectAccessible(page, 'infrastructure page');
    await done();
  });

  it('a reader sees a service’s and an infrastructure’s grants as text, and is offered no change', async () => {
    const { page, done } = await signedIn('reader');
    await toServicePage(page);
    const grants = page.getByRole('table', { name: 'Grants on service ranking' });
    await expect.poll(() => grants.getByRole('row', { name: /^readers/ }).textContent()).toBe('readersyesnonono');
    await page.getByRole('table', { name: 'Versions of ranking' }).waitFor();
    expect(await offeredControls(page)).toEqual([]);

    await page.getByRole('link', { name: 'Deployments', exact: true }).first().click();
    await page
      .getByRole('row', { name: /^ranking/ })
      .getByRole('link', { name: 'infrastructure default' })
      .click();
    const infraGrants = page.getByRole('table', { name: 'Grants on infrastructure default' });
    await expect.poll(() => infraGrants.getByRole('row', { name: /^readers/ }).textContent()).toBe('readersyesnono');
    expect(await offeredControls(page)).toEqual([]);
    await done();
  });

  it('a deployment made through the form that accepts only platform JWTs, 2 per hour: the API shows both; a JWT works twice, then 429', async () => {
    const { page, done } = await signedIn(ADMIN);
    await page.getByRole('button', { name: 'New deployment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('jwt-only');
    await page.getByLabel('Upstream URL (the model server)').fill(world.upstream.url);
    await page.getByText('Advanced options').click();
    await page.getByLabel('Only these kinds').check();
    await page.getByLabel('Accept platform JWTs').check();
    await page.getByLabel(/^Limit how often it may be called/).check();
    await page.getByLabel('Requests', { exact: true }).fill('2');
    await page.getByLabel('Per', { exact: true }).selectOption('hour');
    await expectAccessible(page, 'create form with credentials and a rate limit');
    await page.getByRole('button', { name: 'Create deployment' }).click();
    await page.getByRole('status').filter({ hasText: 'Deployment jwt-only created' }).waitFor();

    const saved = (await manage(t, 'GET', '/deployments/jwt-only')).body;
    expect(saved.auth.credentials).toEqual(['platform_jwt']);
    expect(saved.admits).toEqual(['platform_jwt']);
    expect(saved.rate_limit).toMatchObject({ requests: 2, per: 'hour' });
    expect(saved.rate_limit.by ?? 'credential').toBe('credential');

    // Its page says exactly what it admits and its limit, and issues the JWT.
    await page
      .getByRole('row', { name: /^jwt-only/ })
      .getByRole('link', { name: 'jwt-only', exact: true })
      .click();
    await page.getByRole('heading', { level: 1, name: 'Deployment jwt-only' }).waitFor();
    expect(await page.getByTestId('admits').textContent()).toBe('platform JWTs');
    expect(await page.getByTestId('rate-limit').textContent()).toBe('2 per hour, each caller its own count');
    const how = page.getByRole('region', { name: 'How to call it' });
    expect(await how.textContent()).not.toContain('MODELGATE_INFERENCE_KEY');
    await page.getByRole('button', { name: 'Issue JWT' }).click();
    const jwt = await page
      .getByRole('region', { name: /^Platform JWT / })
      .getByRole('textbox')
      .inputValue();

    const url = `${t.node.urls.inference}/jwt-only/predict`;
    const refused = await fetch(url, bearer(t.keys.inference));
    expect(refused.status).toBe(401);
    await refused.body?.cancel();
    for (const expected of [200, 200, 429]) {
      const res = await fetch(url, bearer(jwt));
      const body = await res.text();
      expect(res.status, body).toBe(expected);
      if (expected === 429) {
        expect(JSON.parse(body).error.code).toBe('RATE_LIMITED');
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      }
    }
    await done();
  });

  it('an edit on the deployment’s page PATCHes only what changed: a new rate limit, every kind of credential again', async () => {
    const made = await manage(t, 'POST', '/deployments', {
      name: 'limited',
      upstream: world.upstream.url,
      auth: { credentials: ['platform_jwt'] },
      rate_limit: { requests: 2, per: 'hour' },
    });
    expect(made.status).toBe(201);
    const { page, done } = await signedIn(ADMIN);
    await page.goto(`${t.node.urls.management}/console/deployments/limited`);
    await page.getByRole('heading', { level: 1, name: 'Deployment limited' }).waitFor();
    await page.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit limited' });
    await form.getByLabel('Every kind the settings above turn on').check();
    await form.getByLabel('Requests', { exact: true }).fill('5');
    await form.getByLabel('Per', { exact: true }).selectOption('minute');
    await form.getByLabel('Counted', { exact: true }).selectOption('deployment');
    const patched = page.waitForRequest((r: Request) => r.method() === 'PATCH');
    await form.getByRole('button', { name: 'Save (new revision)' }).click();
    expect((await patched).postDataJSON()).toEqual({
      auth: { credentials: null },
      rate_limit: { requests: 5, per: 'minute', by: 'deployment' },
    });
    await expect
      .poll(() => page.getByTestId('rate-limit').textContent())
      .toBe('5 per minute, all callers share one count');
    const saved = (await manage(t, 'GET', '/deployments/limited')).body;
    expect(saved.auth.credentials ?? null).toBeNull();
    expect(saved.rate_limit).toEqual({ requests: 5, per: 'minute', by: 'deployment' });
    expect(await page.getByTestId('admits').textContent()).toContain("the node's inference key");
    expect(saved.admits).toContain('inference_key');

    // Nothing changed: no PATCH at all.
    let patches = 0;
    page.on('request', (r) => {
      if (r.method() === 'PATCH') patches++;
    });
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('form', { name: 'Edit limited' }).getByRole('button', { name: 'Save (new revision)' }).click();
    await page.getByRole('form', { name: 'Edit limited' }).waitFor({ state: 'detached' });
    expect(patches).toBe(0);
    expect((await manage(t, 'GET', '/deployments/limited')).body.revision).toBe(saved.revision);
    await done();
  });

  it('a deployment that does not admit platform JWTs offers none to issue (those issued before can still be revoked)', async () => {
    const made = await manage(t, 'POST', '/deployments', {
      name: 'keys-only',
      upstream: world.upstream.url,
      auth: { credentials: ['api_key'] },
    });
    expect(made.status).toBe(201);
    const { page, done } = await signedIn(ADMIN);
    await page.goto(`${t.node.urls.management}/console/deployments/keys-only`);
    await page.getByRole('heading', { level: 1, name: 'Deployment keys-only' }).waitFor();
    expect(await page.getByTestId('jwt-not-admitted').textContent()).toContain('does not admit platform JWTs');
    expect(await page.getByRole('button', { name: 'Issue JWT' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Revoke every JWT issued for keys-only so far' }).count()).toBe(1);
    // The JWT-only deployment still offers to issue one.
    await page.goto(`${t.node.urls.management}/console/deployments/limited`);
    await page.getByRole('heading', { level: 1, name: 'Deployment limited' }).waitFor();
    expect(await page.getByTestId('jwt-not-admitted').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Issue JWT' }).count()).toBe(1);
    await done();
  });
});
