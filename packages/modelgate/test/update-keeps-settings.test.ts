import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 22, item 1: a change keeps every setting it does not name. A deployment with every auth
 * setting (Basic secret, API keys, forwarding, an external OIDC issuer, a credentials list) is changed by each flag
 * of `deployments update`, by `PATCH` and by `apply`, and only what was named changes.
 */

let node: NodeProcess;
let first: TestUpstream;
let second: TestUpstream;

const OIDC = {
  issuer: 'https://idp.example',
  audiences: ['models'],
  jwks_url: 'https://idp.example/jwks.json',
  algorithms: ['RS256'],
  required_claims: { tenant: 'acme' },
  required_scopes: ['predict'],
  clock_skew_s: 30,
};
const FULL = {
  basic_secret: 'pw-one',
  api_keys: false,
  forward_credential: true,
  oidc: OIDC,
  credentials: ['basic', 'platform_jwt', 'oidc'],
};

function cli(args: string[], options: { stdin?: string } = {}) {
  return runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...options });
}

async function api(method: string, path: string, body?: unknown) {
  const key = JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8')).management.key as string;
  const res = await fetch(`${node.urls.management}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function shown(): Promise<{ auth: unknown; upstream: string; access: string; version: string }> {
  const r = await cli(['deployments', 'show', 'full', '-o', 'json']);
  expect(r.code, r.all).toBe(0);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  first = await recordingUpstream('first');
  second = await recordingUpstream('second');
  node = await startNodeProcess();
  for (const name of ['pw-one', 'pw-two']) {
    expect((await api('POST', '/secrets', { name, value: `value-of-${name}` })).status).toBe(201);
  }
  const made = await api('POST', '/deployments', { name: 'full', upstream: first.url, auth: FULL });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  expect((await api('POST', '/services/full/versions', { version: '2' })).status).toBe(201);
});

afterAll(async () => {
  await node?.stop();
  await first?.close();
  await second?.close();
});

beforeEach(async () => {
  const reset = await api('PATCH', '/deployments/full', {
    upstream: first.url,
    access: 'protected',
    version: '1',
    auth: FULL,
  });
  expect(reset.status, JSON.stringify(reset.body)).toBe(200);
  expect(reset.body.auth).toEqual(FULL);
});

describe('deployments update: each flag changes only what it names', () => {
  const cases: [string[], Record<string, unknown>, Record<string, unknown>][] = [
    [['--upstream', 'SECOND'], {}, { upstream: 'SECOND' }],
    [['--access', 'public'], {}, { access: 'public' }],
    [['--version', '2'], {}, { version: '2' }],
    [['--basic-secret', 'pw-two'], { basic_secret: 'pw-two' }, {}],
    [['--no-basic-secret'], { basic_secret: null }, {}],
    [['--api-keys', 'on'], { api_keys: true }, {}],
    [['--api-keys', 'off'], {}, {}],
    [['--forward-credential', 'off'], { forward_credential: false }, {}],
    [['--oidc-issuer', 'https://idp2.example'], { oidc: { ...OIDC, issuer: 'https://idp2.example' } }, {}],
    [['--oidc-audience', 'a', '--oidc-audience', 'b'], { oidc: { ...OIDC, audiences: ['a', 'b'] } }, {}],
    [['--oidc-jwks-url', 'https://idp.example/k'], { oidc: { ...OIDC, jwks_url: 'https://idp.example/k' } }, {}],
    [['--oidc-algorithm', 'ES256'], { oidc: { ...OIDC, algorithms: ['ES256'] } }, {}],
    [['--oidc-required-claim', 'org=x'], { oidc: { ...OIDC, required_claims: { org: 'x' } } }, {}],
    [['--oidc-required-scope', 'write'], { oidc: { ...OIDC, required_scopes: ['write'] } }, {}],
    [['--oidc-clock-skew', '5'], { oidc: { ...OIDC, clock_skew_s: 5 } }, {}],
    [['--no-oidc'], { oidc: undefined }, {}],
    [['--credentials', 'platform_jwt,api_token'], { credentials: ['platform_jwt', 'api_token'] }, {}],
    [['--credentials', 'all'], { credentials: null }, {}],
  ];
  for (const [flags, authChange, otherChange] of cases) {
    it(`${flags.join(' ')}`, async () => {
      const args = flags.map((f) => (f === 'SECOND' ? second.url : f));
      const r = await cli(['deployments', 'update', 'full', ...args]);
      expect(r.code, r.all).toBe(0);
      const after = await shown();
      expect(after.auth).toEqual({ ...FULL, ...authChange });
      const expected = { upstream: first.url, access: 'protected', version: '1', ...otherChange };
      if (expected.upstream === 'SECOND') expected.upstream = second.url;
      expect({ upstream: after.upstream, access: after.access, version: after.version }).toEqual(expected);
    });
  }
});

describe('PATCH /api/v1/deployments/NAME merges auth', () => {
  it('a key it names changes, the others (the OIDC issuer too) stay', async () => {
    const r = await api('PATCH', '/deployments/full', { auth: { api_keys: true } });
    expect(r.status).toBe(200);
    expect(r.body.auth).toEqual({ ...FULL, api_keys: true });
  });

  it('oidc: null removes the issuer and nothing else; auth: null returns to the version', async () => {
    const r = await api('PATCH', '/deployments/full', { auth: { oidc: null } });
    expect(r.body.auth).toEqual({
      basic_secret: 'pw-one',
      api_keys: false,
      forward_credential: true,
      credentials: FULL.credentials,
    });
    const back = await api('PATCH', '/deployments/full', { auth: null });
    expect(back.body.auth_source).toBe('version');
  });

  it('a bad value in the change is refused and changes nothing', async () => {
    const r = await api('PATCH', '/deployments/full', { auth: { api_keys: 'yes' } });
    expect(r.status).toBe(400);
    expect((await shown()).auth).toEqual(FULL);
  });
});

describe('apply: an auth block names what it changes', () => {
  it('auth: {api_keys: true} keeps the Basic secret, forwarding and the OIDC issuer', async () => {
    const file = join(node.cwd, 'partial.yaml');
    writeFileSync(file, `deployments:\n  - {name: full, upstream: "${first.url}", auth: {api_keys: true}}\n`);
    const diff = await cli(['diff', '-f', file]);
    expect(diff.code, diff.all).toBe(1);
    const applied = await cli(['apply', '-f', file]);
    expect(applied.code, applied.all).toBe(0);
    expect((await shown()).auth).toEqual({ ...FULL, api_keys: true });
    expect((await cli(['diff', '-f', file])).code).toBe(0);
  });

  it('an export applied back changes nothing', async () => {
    const exported = await cli(['export']);
    expect(exported.code, exported.all).toBe(0);
    const again = await cli(['apply', '-f', '-'], { stdin: exported.stdout });
    expect(again.code, again.all).toBe(0);
    expect(again.stdout).toContain('No changes');
    expect((await shown()).auth).toEqual(FULL);
  });
});
