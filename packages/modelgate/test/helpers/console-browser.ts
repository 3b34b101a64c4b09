import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { manage, startTestNode, type TestNode } from './in-process-node.js';
import { GOOD_PASSWORD } from './people.js';
import { recordingUpstream, type TestUpstream } from './upstreams.js';

/** Debian's Chromium, which CI installs; no browser is ever downloaded. */
export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

/** Headless in a container: no sandbox, no GPU, no background traffic to anywhere. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Starts headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A fresh browser context (its own cookies and storage) that records every request its pages
 * make, so a test can assert none left the console's origin.
 */
export async function consoleContext(
  browser: Browser,
): Promise<{ context: BrowserContext; requests: string[]; offOrigin: (origin: string) => string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // A step that cannot happen fails naming its locator, well before the test's own timeout.
  context.setDefaultTimeout(8_000);
  const requests: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  // Clipboard writes need the permission in headless Chromium (the copy buttons).
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const offOrigin = (origin: string) => requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
  return { context, requests, offOrigin };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core on the page as it is and fails on any serious or critical violation. axe is
 * evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag
 * would be, rightly, refused).
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })))`,
  )) as { id: string; impact: string; help: string; nodes: string[] }[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${what}: serious or critical accessibility violations`).toEqual([]);
}

/** Where the README's screenshots go when `MODELGATE_SCREENSHOTS=1` (`docs/` at the repository root). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.MODELGATE_SCREENSHOTS !== '1') return;
  const dir = join(import.meta.dirname, '..', '..', '..', '..', 'docs', 'screenshots');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** Whether the page's storage holds anything (a credential must never land there). */
export async function storageOf(page: Page): Promise<{ local: number; session: number; cookies: string }> {
  return (await page.evaluate(
    '({ local: localStorage.length, session: sessionStorage.length, cookies: document.cookie })',
  )) as { local: number; session: number; cookies: string };
}

/** Opens the console and signs in with a username and password; waits for the deployments page. */
export async function signInWithPassword(
  page: Page,
  origin: string,
  username: string,
  password: string,
): Promise<void> {
  await page.goto(`${origin}/console/`);
  await fillSignIn(page, username, password);
  await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
}

/** Opens the console and signs in by pasting a key or API token; waits for the deployments page. */
export async function signInWithToken(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(`${origin}/console/`);
  await page.getByLabel('Key or token').fill(token);
  await page.getByRole('button', { name: 'Use this token' }).click();
  await page.getByRole('heading', { level: 1, name: 'Deployments' }).waitFor();
}

/** Fills and sends the console's sign-in form shown on the page. */
export async function fillSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/**
 * Makes the console believe the API allows every change: in the management API's answers to this
 * page, each `caller_may_*: false` reads `true`, so the console offers what it would hide. What
 * the API then refuses shows that the API, not the console, decides (a forced write).
 */
export async function pretendEverythingAllowed(page: Page): Promise<void> {
  await page.route(/\/api\/v1\//, async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    const response = await route.fetch();
    const body = (await response.text()).replace(/"(caller_may_\w+)":false/g, '"$1":true');
    await route.fulfill({ response, body });
  });
}

/**
 * The names of the controls a page offers in its main part: buttons (a row's buttons carry what
 * they act on: "Delete ranking"), checkboxes, and forms; sorted. The header's Sign out is not in
 * the main part.
 */
export async function offeredControls(page: Page): Promise<string[]> {
  const main = page.locator('main');
  const names = async (role: 'button' | 'checkbox' | 'form', prefix: string) => {
    // Its aria-label, else the text of what labels it, else its own text (runs in the page: no DOM types here).
    const found: (string | undefined)[] = await main.getByRole(role).evaluateAll((els: any[]) =>
      els.map((e) => {
        const labelled = e.getAttribute('aria-labelledby');
        const label = e.labels?.[0];
        return (
          e.getAttribute('aria-label') ??
          (labelled ? e.ownerDocument.getElementById(labelled)?.textContent : undefined) ??
          (label ? label.textContent : e.textContent)
        );
      }),
    );
    return found.map((n) => `${prefix}${(n ?? '').replace(/\s+/g, ' ').trim()}`);
  };
  return [
    ...(await names('button', '')),
    ...(await names('checkbox', 'checkbox: ')),
    ...(await names('form', 'form: ')),
  ].sort();
}

/**
 * A fresh context signed in as `username` on the world's node; `done` checks that no request left
 * the node's origin and closes the context.
 */
export async function signedInPage(
  world: ConsoleWorld,
  username: string,
  password: string,
): Promise<{ page: Page; done: () => Promise<void> }> {
  const origin = world.t.node.urls.management;
  const { context, offOrigin } = await consoleContext(world.browser);
  const page = await context.newPage();
  await signInWithPassword(page, origin, username, password);
  return {
    page,
    done: async () => {
      expect(offOrigin(origin)).toEqual([]);
      await context.close();
    },
  };
}

/** Follows a link of the console's navigation and waits for the page's heading. */
export async function openPage(page: Page, link: string, heading = link): Promise<void> {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: link }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** What the console's browser tests run against: a node, a model upstream, Chromium, and a global admin. */
export interface ConsoleWorld {
  readonly t: TestNode;
  readonly upstream: TestUpstream;
  readonly browser: Browser;
  readonly admin: { readonly username: string; readonly password: string };
  close(): Promise<void>;
}

/** Starts a {@link ConsoleWorld}; `admin` names the user of the group `admin` privilege that signs in. */
export async function startConsoleWorld(
  admin: string,
  overrides: Parameters<typeof startTestNode>[0] = {},
): Promise<ConsoleWorld> {
  const [t, upstream, browser] = await Promise.all([
    startTestNode(overrides),
    recordingUpstream('model'),
    launchChromium(),
  ]);
  const password = `${GOOD_PASSWORD} ${admin}`;
  const group = `${admin}-group`;
  expect((await manage(t, 'POST', '/groups', { name: group, privileges: ['admin'] })).status).toBe(201);
  expect((await manage(t, 'POST', '/users', { username: admin, password, groups: [group] })).status).toBe(201);
  return {
    t,
    upstream,
    browser,
    admin: { username: admin, password },
    close: async () => {
      await browser.close();
      await upstream.close();
      await t.close();
    },
  };
}
