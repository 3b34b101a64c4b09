import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminKey } from '../src/keys/admin-keys.js';
import {
  type ConsoleWorld,
  consoleContext,
  expectAccessible,
  HAS_CHROMIUM,
  openPage,
  signedInPage,
  signInWithToken,
  startConsoleWorld,
  storageOf,
} from './helpers/console-browser.js';
import { manage, type TestNode } from './helpers/in-process-node.js';
import { api, GOOD_PASSWORD, signIn } from './helpers/people.js';

/**
 * Issue 19's flows that the other console tests leave out, each in Chromium against a real node
 * and checked on the data plane or the API with real HTTP: signing in with an admin key; the
 * create form's API keys, OIDC and credential forwarding; rolling an API key with a grace period;
 * revoking one platform JWT by its id; an API token with an expiry, rolled; a group's global
 * privilege and a user's state changed in place; the audit log filtered by actor and time.
 */

const TITLE = HAS_CHROMIUM ? 'console flows' : 'console flows — SKIPPED: /usr/bin/chromium is absent';

const ADMIN = 'flows-admin';
const ADMIN_PASSWORD = `${GOOD_PASSWORD} ${ADMIN}`;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** A local `datetime-local` value `minutes` from now (the browser and this process share the time zone). */
function localInput(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The text of the credential a shown-once region holds. */
const shownOnce = (page: Page, name: string | RegExp) =>
  page.getByRole('region', { name }).getByRole('textbox').inputValue();

describe.skipIf(!HAS_CHROMIUM)(TITLE, () => {
  let world: ConsoleWorld;
  let t: TestNode;
  const origin = () => t.node.urls.management;
  const admin = () => signedInPage(world, ADMIN, ADMIN_PASSWORD);

  beforeAll(async () => {
    world = await startConsoleWorld(ADMIN);
    t = world.t;
  }, 60_000);
  afterAll(() => world?.close());

  it('an admin key (modelgate admin-keys create) signs in, and Advanced options make API keys, an OIDC issuer and credential forwarding', async () => {
    const adminKey = (await createAdminKey(t.node.store, 'console test')).key;
    const { context, offOrigin } = await consoleContext(world.browser);
    const page = await context.newPage();
    await signInWithToken(page, origin(), adminKey);
    expect(await page.getByTestId('whoami').textContent()).toContain('admin key');

    await page.getByRole('button', { name: 'New deployment' }).click();
    await page.getByLabel('Name', { exact: true }).fill('forwarded');
    await page.getByLabel('Upstream URL (the model server)').fill(world.upstream.url);
    await page.getByText('Advanced options').click();
    await page.getByLabel(/^API keys/).check();
    await page.getByLabel('Create this many keys now').fill('2');
    await page.getByLabel(/OAuth2 \/ OpenID Connect/).check();
    await page.getByLabel('Issuer', { exact: true }).fill('https://issuer.example.com/');
    await page.getByLabel('Audiences (comma-separated)').fill('models, console');
    await page.getByLabel("Forward the caller's credential to the model server").check();
    await expectAccessible(page, 'create form with API keys and OIDC');
    await page.getByRole('button', { name: 'Create deployment' }).click();
    const notice = page.getByRole('status').filter({ hasText: 'Deployment forwarded created' });
    await notice.getByRole('textbox').nth(1).waitFor();
    const keys = await notice.getByRole('textbox').evaluateAll((els) => els.map((e) => (e as { value: string }).value));
    expect(keys).toHaveLength(2);

    // Each key opens the deployment, and the model server receives the caller's credential.
    const url = `${t.node.urls.inference}/forwarded/predict`;
    for (const key of keys) {
      expect(key).toMatch(/^mgk_/);
      expect((await fetch(url, bearer(key))).status).toBe(200);
      expect(world.upstream.hits.at(-1)?.headers.authorization).toBe(`Bearer ${key}`);
    }
    expect((await fetch(url)).status).toBe(401);
    const saved = (await manage(t, 'GET', '/deployments/forwarded')).body;
    expect(saved.auth).toMatchObject({
      api_keys: true,
      forward_credential: true,
      oidc: { issuer: 'https://issuer.example.com/', audiences: ['models', 'console'] },
    });
    // Done drops every credential the create answered: none stays in the page.
    await notice.getByRole('button', { name: 'Done' }).first().click();
    await notice.waitFor({ state: 'detached' });
    for (const key of keys) expect(await page.content()).not.toContain(key);

    // The deployment's page says how to call it with a token from that issuer.
    await page
      .getByRole('row', { name: /^forwarded/ })
      .getByRole('link', { name: 'forwarded', exact: true })
      .click();
    const how = page.getByRole('region', { name: 'How to call it' });
    await expect.poll(() => how.textContent()).toContain('An access token from https://issuer.example.com/');
    expect(await storageOf(page)).toEqual({ local: 0, session: 0, cookies: '' });

    // An address the console has no page for says so, with a way back.
    await page.evaluate(
      `history.pushState(null, '', '/console/nowhere'); dispatchEvent(new PopStateEvent('popstate'))`,
    );
    await page.getByRole('heading', { level: 1, name: 'Not found' }).waitFor();
    await expectAccessible(page, 'not-found page');
    expect(offOrigin(origin())).toEqual([]);
    await context.close();
  });

  it('an API key rolled with a grace period: both keys work until it ends; one platform JWT revoked by its id', async () => {
    const made = await manage(t, 'POST', '/deployments', {
      name: 'graced',
      upstream: world.upstream.url,
      access: 'protected',
      auth: { api_keys: true },
      api_keys: 1,
    });
    expect(made.status).toBe(201);
    const old = made.body.api_keys[0];
    const url = `${t.node.urls.inference}/graced/v1`;
    const { page, done } = await admin();
    await page.getByRole('link', { name: 'graced', exact: true }).click();
    const keys = page.getByRole('region', { name: 'API keys' });
    await keys.getByLabel(/Grace when rolling/).fill('3600');
    await keys.getByRole('button', { name: `Roll ${old.prefix}` }).click();
    const successor = await shownOnce(page, /Successor of/);
    expect(successor).toMatch(/^mgk_/);
    expect((await fetch(url, bearer(old.key))).status).toBe(200);
    expect((await fetch(url, bearer(successor))).status).toBe(200);
    await keys.getByRole('button', { name: 'Done' }).click();
    const oldRow = keys.getByRole('row', { name: new RegExp(`^${old.prefix}`) });
    await expect.poll(() => oldRow.textContent()).toContain('retiring until');
    expect(await oldRow.getByRole('button', { name: /^Roll/ }).count()).toBe(0);
    const listed = (await manage(t, 'GET', '/api-keys?deployment=graced')).body.api_keys;
    const retiring = listed.find((k: { prefix: string }) => k.prefix === old.prefix);
    const graceMs = Date.parse(retiring.retires_at) - Date.now();
    expect(graceMs).toBeGreaterThan(3500_000);
    expect(graceMs).toBeLessThanOrEqual(3600_000);

    // A JWT issued here, then revoked by its jti alone (the admin's form): refused at once.
    const jwts = page.getByRole('region', { name: 'Platform JWTs' });
    await jwts.getByRole('button', { name: 'Issue JWT' }).click();
    const jwt = await shownOnce(page, /^Platform JWT /);
    const jti = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).jti as string;
    expect((await fetch(url, bearer(jwt))).status).toBe(200);
    await jwts.getByRole('button', { name: 'Done' }).click();
    await jwts.getByLabel('JWT id (jti) to revoke').fill(jti);
    await jwts.getByRole('button', { name: 'Revoke this JWT' }).click();
    await jwts
      .getByRole('status')
      .filter({ hasText: `JWT ${jti} revoked.` })
      .waitFor();
    expect((await fetch(url, bearer(jwt))).status).toBe(401);
    await done();
  });

  it('an API token with an expiry and every deployment, rolled without grace: the successor works, the old one is refused', async () => {
    expect(
      (await manage(t, 'POST', '/deployments', { name: 'tokened', upstream: world.upstream.url, access: 'protected' }))
        .status,
    ).toBe(201);
    const { page, done } = await admin();
    await openPage(page, 'API tokens');
    const form = page.getByRole('form', { name: 'New API token' });
    await form.getByLabel('Name', { exact: true }).fill('expiring');
    const expires = localInput(24 * 60);
    await form.getByLabel("Expires (empty: the node's default)").fill(expires);
    await form.getByLabel('Developer Operations: the management API, as you').check();
    await form.getByLabel('Every deployment').check();
    await form.getByRole('button', { name: 'Create API token' }).click();
    const token = await shownOnce(page, 'API token expiring');
    const url = `${t.node.urls.inference}/tokened/v1`;
    expect((await fetch(url, bearer(token))).status).toBe(200);
    // Developer Operations: the management API, as its owner.
    expect((await api(t, token, 'GET', '/whoami')).body).toMatchObject({ kind: 'user', user: ADMIN });
    await page.getByRole('button', { name: 'Done' }).click();
    const session = await signIn(t, ADMIN, ADMIN_PASSWORD);
    const listed = (await api(t, session, 'GET', '/tokens')).body.tokens.find(
      (x: { name: string }) => x.name === 'expiring',
    );
    expect(Math.abs(Date.parse(listed.expires_at) - new Date(expires).getTime())).toBeLessThan(60_000);

    await page.getByLabel(/Grace when rolling/).fill('0');
    await page.getByRole('button', { name: 'Roll expiring' }).click();
    const successor = await shownOnce(page, 'Successor of expiring');
    expect(successor).toMatch(/^mgt_/);
    expect((await fetch(url, bearer(successor))).status).toBe(200);
    expect((await fetch(url, bearer(token))).status).toBe(401);
    await done();
  });

  it('people: a group’s global privilege ticked in place, a user disabled from the list; audit filtered by actor and time', async () => {
    expect((await manage(t, 'POST', '/groups', { name: 'makers' })).status).toBe(201);
    const maker = 'maker';
    const makerPassword = `${GOOD_PASSWORD} ${maker}`;
    expect(
      (await manage(t, 'POST', '/users', { username: maker, password: makerPassword, groups: ['makers'] })).status,
    ).toBe(201);
    const { page, done } = await admin();
    await openPage(page, 'People and access');
    await page.getByLabel('makers: create_service').click(); // ticked once the API has it (a controlled box)
    await expect
      .poll(async () => (await manage(t, 'GET', '/groups/makers')).body.privileges)
      .toEqual(['create_service']);
    const makerSession = await signIn(t, maker, makerPassword);
    expect((await api(t, makerSession, 'POST', '/services', { name: 'made-by-maker' })).status).toBe(201);
    const makerId = (await api(t, makerSession, 'GET', '/whoami')).body.id as string;

    await page.getByRole('button', { name: `Disable ${maker}` }).click();
    const makerRow = page.getByRole('table', { name: 'Users' }).getByRole('row', { name: new RegExp(`^${maker}`) });
    await expect.poll(() => makerRow.textContent()).toContain('disabled');
    expect(
      (await api(t, undefined, 'POST', '/sessions', { username: maker, password: makerPassword })).status,
    ).not.toBe(201);

    // The audit log: the maker's own records by its id; a window in the future holds none.
    await openPage(page, 'Audit log');
    await page.getByLabel('Actor (principal id)').fill(makerId);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const rows = page.getByRole('row');
    await expect.poll(async () => (await rows.allTextContents()).slice(1).join('\n')).toContain('service.create');
    for (const text of (await rows.allTextContents()).slice(1)) expect(text).toContain(makerId);
    await page.getByLabel('Since').fill(localInput(60));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No records match.').waitFor();
    expect(await rows.count()).toBe(1); // the header alone
    await page.getByLabel('Since').fill(localInput(-60));
    await page.getByLabel('Until').fill(localInput(60));
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => rows.count()).toBeGreaterThan(1);
    await done();
  });
});
