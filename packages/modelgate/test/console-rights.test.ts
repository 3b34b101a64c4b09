import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConsoleWorld,
  consoleContext,
  HAS_CHROMIUM,
  offeredControls,
  openPage,
  pretendEverythingAllowed,
  signedInPage,
  signInWithToken,
  startConsoleWorld,
} from './helpers/console-browser.js';
import { manage, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * The console offers a change only to a caller the API would allow (issue 19), and adds no
 * authorization of its own: what it offers comes from the API's answers about the caller
 * (`caller_may_create` and `caller_may_deploy` on deployments, `caller_may_change` on secrets and
 * grants, whoami's privileges and kind), each of which is checked here against the decision of
 * the route it stands for. In Chromium: a reader is offered no change on the deployments list, a
 * deployment's page, secrets, grants or (signed in with a key) API tokens, while an admin and a
 * deployer are offered what they may do; and a write the reader forces (the console made to
 * believe everything is allowed) is refused by the API and shown as its message.
 */

const TITLE = HAS_CHROMIUM ? 'console rights' : 'console rights — SKIPPED: /usr/bin/chromium is absent';

const ADMIN = 'rights-admin';
const password = (user: string) => `${GOOD_PASSWORD} ${user}`;
const basic = (value: string) => ({
  headers: { authorization: `Basic ${Buffer.from(`modelgate:${value}`).toString('base64')}` },
});

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  let world: ConsoleWorld;
  let t: TestNode;
  let keyPrefix: string;
  const origin = () => t.node.urls.management;
  const upstreamUrl = () => world.upstream.url;

  beforeAll(async () => {
    world = await startConsoleWorld(ADMIN);
    t = world.t;
    const ok = async (status: Promise<{ status: number }>, expected: number) =>
      expect((await status).status).toBe(expected);
    await ok(manage(t, 'POST', '/secrets', { name: 'ranking-password', value: 'first ranking password' }), 201);
    const made = await manage(t, 'POST', '/deployments', {
      name: 'ranking',
      upstream: upstreamUrl(),
      access: 'protected',
      auth: { basic_secret: 'ranking-password', api_keys: true },
      api_keys: 1,
    });
    expect(made.status).toBe(201);
    keyPrefix = made.body.api_keys[0].prefix;
    // A reader: sees the deployment and uses its secret, changes nothing. A deployer: may deploy it too.
    for (const [group, infrastructure, service] of [
      ['readers', 'view', 'read'],
      ['deployers', 'deploy', 'deploy'],
    ] as const) {
      await ok(manage(t, 'POST', '/groups', { name: group }), 201);
      const user = group.slice(0, -1);
      await ok(manage(t, 'POST', '/users', { username: user, password: password(user), groups: [group] }), 201);
      await ok(manage(t, 'PUT', `/infrastructures/default/grants/${group}`, { rights: [infrastructure] }), 200);
      await ok(manage(t, 'PUT', `/services/ranking/grants/${group}`, { rights: [service] }), 200);
      await ok(manage(t, 'PUT', `/secrets/ranking-password/grants/${group}`, { rights: ['use'] }), 200);
    }
  }, 60_000);
  afterAll(() => world?.close());

  const signedIn = (user: string) => signedInPage(world, user, password(user));

  /** A secret value newer than the deployment's last deploy: the secrets page says it needs a redeploy. */
  async function secretChangedAfterDeploy(): Promise<void> {
    await new Promise((r) => setTimeout(r, 20)); // a later timestamp than the deploy's
    expect((await manage(t, 'PUT', '/secrets/ranking-password', { value: 'second ranking password' })).status).toBe(
      200,
    );
  }

  /** The controls of the page once the list or table it waits for is shown. */
  async function controlsAfter(page: Page, shown: string): Promise<string[]> {
    await page.getByRole('table', { name: shown }).waitFor();
    return offeredControls(page);
  }

  it('the deployments list: a reader is offered no change; an admin and a deployer are offered create, disable and delete', async () => {
    const reader = await signedIn('reader');
    expect(await controlsAfter(reader.page, 'Deployments you may see')).toEqual([]);
    expect(await reader.page.getByRole('columnheader', { name: 'Actions' }).count()).toBe(0);
    await reader.done();

    for (const user of [ADMIN, 'deployer']) {
      const { page, done } = await signedIn(user);
      const offered = await controlsAfter(page, 'Deployments you may see');
      expect(offered, user).toEqual(['Delete ranking', 'Disable ranking', 'New deployment']);
      await done();
    }
  });

  it('a deployment’s page: a reader may only copy the curl lines and issue a JWT; an admin is offered every change', async () => {
    const reader = await signedIn('reader');
    await reader.page.getByRole('link', { name: 'ranking', exact: true }).click();
    const readerOffered = await controlsAfter(reader.page, 'API keys of ranking');
    expect(readerOffered.filter((c) => c !== 'Copy')).toEqual(['Issue JWT', 'form: Issue a platform JWT']);
    await reader.done();

    const admin = await signedIn(ADMIN);
    await admin.page.getByRole('link', { name: 'ranking', exact: true }).click();
    const adminOffered = await controlsAfter(admin.page, 'API keys of ranking');
    expect(adminOffered.filter((c) => c !== 'Copy')).toEqual(
      [
        'Create API key',
        `Delete ${keyPrefix}`,
        'Delete',
        'Disable',
        'Edit',
        'Issue JWT',
        'Redeploy',
        'Revoke every JWT issued for ranking so far',
        'Revoke this JWT',
        `Roll ${keyPrefix}`,
        'form: Issue a platform JWT',
        'form: New API key',
        'form: Revoke one platform JWT',
      ].sort(),
    );
    await admin.done();
  });

  it('secrets: anyone may make one; only who holds admin on a secret is offered its change, only a deployer the redeploy it needs', async () => {
    await secretChangedAfterDeploy();
    const anyone = ['Create secret', 'checkbox: Generate a value (shown once)', 'form: New secret'];
    const expected: Record<string, string[]> = {
      reader: anyone,
      deployer: [...anyone, 'Redeploy ranking'],
      [ADMIN]: [...anyone, 'Change value ranking-password', 'Delete ranking-password', 'Redeploy ranking'],
    };
    for (const [user, offered] of Object.entries(expected)) {
      const { page, done } = await signedIn(user);
      await openPage(page, 'Secrets');
      const row = page.getByRole('row', { name: /ranking-password/ });
      await expect.poll(() => row.textContent()).toContain('needs a redeploy');
      expect(await offeredControls(page), user).toEqual(offered.sort());
      await done();
    }
  });

  it('grants: a reader sees who holds what on a place it may see, as text; an admin ticks it in place', async () => {
    const reader = await signedIn('reader');
    await openPage(reader.page, 'People and access');
    const grants = reader.page.getByRole('table', { name: 'Grants on infrastructure default' });
    await expect.poll(() => grants.getByRole('row', { name: /^readers/ }).textContent()).toBe('readersyesnono');
    expect(await reader.page.getByRole('region', { name: 'Users' }).count()).toBe(0);
    expect(await reader.page.getByRole('region', { name: 'Groups and global privileges' }).count()).toBe(0);
    expect(await offeredControls(reader.page)).toEqual([]);
    await reader.done();

    const admin = await signedIn(ADMIN);
    await openPage(admin.page, 'People and access');
    const adminGrants = admin.page.getByRole('table', { name: 'Grants on infrastructure default' });
    await adminGrants.getByLabel('readers: view').waitFor();
    const offered = await offeredControls(admin.page);
    for (const control of [
      'checkbox: readers: view',
      'checkbox: deployers: deploy',
      'form: Grant a group',
      'Add group',
    ]) {
      expect(offered).toContain(control);
    }
    await admin.done();
  });

  it('API tokens: signed in with a key (no person), nothing is offered, and the page says why', async () => {
    const { context, offOrigin } = await consoleContext(world.browser);
    const page = await context.newPage();
    await signInWithToken(page, origin(), t.keys.management);
    // The key lives in this page's memory only: go there without a reload.
    await page.evaluate(`history.pushState(null, '', '/console/tokens'); dispatchEvent(new PopStateEvent('popstate'))`);
    await page.getByRole('heading', { level: 1, name: 'API tokens' }).waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('API tokens belong to a person');
    expect(await offeredControls(page)).toEqual([]);
    expect(offOrigin(origin())).toEqual([]);
    await context.close();
  });

  it('a reader who forces the console to offer every change: each write is refused by the API, shown as its message, and changes nothing', async () => {
    await secretChangedAfterDeploy();
    const { page, done } = await signedIn('reader');
    await pretendEverythingAllowed(page);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
    const alert = (text: string) => page.getByRole('alert').filter({ hasText: text });

    // The list: disable, and a new deployment of the service it may only read.
    const row = page.getByRole('row', { name: /ranking/ });
    await row.getByRole('button', { name: 'Disable ranking' }).click();
    await alert('This needs the deploy right on the service').waitFor();
    expect((await manage(t, 'GET', '/deployments/ranking')).body.enabled).toBe(true);
    await page.getByRole('button', { name: 'New deployment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('forced');
    await page.getByLabel('Upstream URL (the model server)').fill(upstreamUrl());
    await page.getByLabel('Service (default: the name)').fill('ranking');
    await page.getByRole('button', { name: 'Create deployment' }).click();
    await page.getByRole('form', { name: 'New deployment' }).getByRole('alert').waitFor();
    expect(await page.getByRole('form', { name: 'New deployment' }).getByRole('alert').textContent()).toBe(
      'This needs the deploy right on the service',
    );
    expect((await manage(t, 'GET', '/deployments/forced')).status).toBe(404);

    // The deployment's page: delete, confirmed by name; the refusal stays in the dialog.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await row.getByRole('link', { name: 'ranking', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Deployment ranking' }).waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the deployment ranking?' });
    await dialog.getByLabel('Name').fill('ranking');
    await dialog.getByRole('button', { name: 'Delete deployment' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toBe('This needs the deploy right on the service');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await manage(t, 'GET', '/deployments/ranking')).status).toBe(200);

    // Secrets: a new value for a secret it may only use.
    await openPage(page, 'Secrets');
    await page.getByRole('button', { name: 'Change value ranking-password' }).click();
    await page.getByLabel('New value', { exact: true }).fill('a value forced by the reader');
    await page.getByRole('button', { name: 'Save value' }).click();
    await alert('This needs the admin right on the secret').waitFor();
    // The gateway serves the value of the last deploy; a redeploy (as admin) picks up the current one: not the reader's.
    expect((await manage(t, 'POST', '/deployments/ranking/redeploy')).status).toBe(200);
    const url = `${t.node.urls.inference}/ranking/x`;
    expect((await fetch(url, basic('second ranking password'))).status).toBe(200);
    expect((await fetch(url, basic('a value forced by the reader'))).status).toBe(401);

    // Grants: a right ticked on the infrastructure it may only view.
    await page.goto(`${origin()}/console/people`);
    const grants = page.getByRole('table', { name: 'Grants on infrastructure default' });
    await grants.getByLabel('readers: deploy').click();
    await alert('This needs the admin right on the infrastructure').waitFor();
    const held = await manage(t, 'GET', '/infrastructures/default/grants');
    expect(held.body.grants.find((g: { group: string }) => g.group === 'readers').rights).toEqual(['view']);

    // Each refusal is in the audit log, under the reader (a refusal's record is written after its answer).
    const readerId = (await api(t, await signIn(t, 'reader', password('reader')), 'GET', '/whoami')).body.id;
    const deniedActions = async () =>
      (
        await manage(t, 'GET', `/audit?actor=${encodeURIComponent(readerId)}&outcome=denied&limit=100`)
      ).body.records.map((r: { action: string }) => r.action);
    await expect
      .poll(deniedActions)
      .toEqual(
        expect.arrayContaining([
          'deployment.create',
          'deployment.delete',
          'deployment.disable',
          'infrastructure.grant.update',
          'secret.update',
        ]),
      );
    await done();
  });

  it('each answer about the caller is the decision of the route it stands for (admin, deployer, reader, the management key)', async () => {
    const callers: [string, string][] = [
      [ADMIN, await signIn(t, ADMIN, password(ADMIN))],
      ['deployer', await signIn(t, 'deployer', password('deployer'))],
      ['reader', await signIn(t, 'reader', password('reader'))],
      ['management key', t.keys.management],
    ];
    const allowed = (status: number) => status >= 200 && status < 300;
    for (const [who, token] of callers) {
      const list = await api(t, token, 'GET', '/deployments');
      const listed = list.body.deployments.find((d: { name: string }) => d.name === 'ranking');
      const one = await api(t, token, 'GET', '/deployments/ranking');
      expect(one.body.caller_may_deploy, who).toBe(listed.caller_may_deploy);
      const redeploy = await api(t, token, 'POST', '/deployments/ranking/redeploy');
      expect(allowed(redeploy.status), `${who}: redeploy ${redeploy.status}`).toBe(listed.caller_may_deploy);

      const created = await api(t, token, 'POST', '/deployments', {
        name: `by-${who.replace(/\W/g, '-')}`,
        service: 'ranking',
        upstream: upstreamUrl(),
        access: 'public',
      });
      expect(allowed(created.status), `${who}: create ${created.status}`).toBe(list.body.caller_may_create);

      const secret = (await api(t, token, 'GET', '/secrets')).body.secrets.find(
        (s: { name: string }) => s.name === 'ranking-password',
      );
      const put = await api(t, token, 'PUT', '/secrets/ranking-password', { value: 'second ranking password' });
      expect(allowed(put.status), `${who}: secret ${put.status}`).toBe(secret.caller_may_change);

      const grants = await api(t, token, 'GET', '/services/ranking/grants');
      const regrant = await api(t, token, 'PUT', '/services/ranking/grants/readers', { rights: ['read'] });
      expect(allowed(regrant.status), `${who}: grant ${regrant.status}`).toBe(grants.body.caller_may_change);

      const expected = {
        [ADMIN]: [true, true, true, true],
        deployer: [true, true, false, false],
        reader: [false, false, false, false],
        'management key': [true, true, true, true],
      }[who];
      expect(
        [
          list.body.caller_may_create,
          listed.caller_may_deploy,
          secret.caller_may_change,
          grants.body.caller_may_change,
        ],
        who,
      ).toEqual(expected);
    }
  });
});
