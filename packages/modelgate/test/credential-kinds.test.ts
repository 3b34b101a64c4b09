import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { admittedKinds, CREDENTIAL_KINDS } from '../src/kernel/credential-kinds.js';
import { getJson } from './helpers/http.js';
import { deploy, manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd, tempDir } from './helpers/node-process.js';
import { api, userWithSession } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 22, item 6: "JWT only" can be said. A deployment lists the kinds of credential it takes
 * (default: every kind, as before), the gateway admits exactly those, and `deployments show`
 * lists exactly what would be admitted: each kind it names opens the deployment, each other is
 * refused.
 */

describe('admittedKinds', () => {
  const base = { basic_secret: null, api_keys: true } as const;
  it('without a list: every kind the settings turn on, the node key, API tokens and platform JWTs included', () => {
    expect(admittedKinds(base)).toEqual(['api_key', 'api_token', 'platform_jwt', 'inference_key']);
    expect(admittedKinds({ ...base, basic_secret: 's', api_keys: false })).toEqual([
      'basic',
      'api_token',
      'platform_jwt',
      'inference_key',
    ]);
  });
  it('with a list: only the listed kinds, in a fixed order', () => {
    expect(admittedKinds({ ...base, credentials: ['platform_jwt'] })).toEqual(['platform_jwt']);
    expect(admittedKinds({ ...base, credentials: ['platform_jwt', 'api_key'] })).toEqual(['api_key', 'platform_jwt']);
    // A listed kind counts while its own setting is on.
    expect(admittedKinds({ ...base, api_keys: false, credentials: ['api_key', 'platform_jwt'] })).toEqual([
      'platform_jwt',
    ]);
  });
});

describe('a deployment that lists the credentials it accepts', () => {
  let t: TestNode;
  let up: TestUpstream;
  let cwd: string;
  /** One credential of every kind, each able to open `jwt-only` and `open` but for the list. */
  const credential: Record<string, string> = {};

  beforeAll(async () => {
    up = await recordingUpstream('model');
    t = await startTestNode();
    cwd = tempDir();
    writeFileSync(join(cwd, 'key_file.json'), JSON.stringify({ management: { key: t.keys.management } }));
    expect((await manage(t, 'POST', '/secrets', { name: 'pw', value: 'a basic password value' })).status).toBe(201);
    const auth = { basic_secret: 'pw', api_keys: true };
    await deploy(t, { name: 'open', upstream: up.url, access: 'protected', auth });
    const made = await deploy(t, {
      name: 'jwt-only',
      upstream: up.url,
      access: 'protected',
      auth: { ...auth, credentials: ['platform_jwt'] },
      api_keys: 1,
    });
    expect(made.deployment.admits).toEqual(['platform_jwt']);
    credential.api_key = made.api_keys[0].key;
    const openKey = await manage(t, 'POST', '/api-keys', { deployment: 'open' });
    credential.open_api_key = openKey.body.api_keys[0].key;
    credential.inference_key = t.keys.inference;
    credential.basic = `Basic ${Buffer.from('modelgate:a basic password value').toString('base64')}`;
    expect((await manage(t, 'POST', '/groups', { name: 'admins', privileges: ['admin'] })).status).toBe(201);
    const root = await userWithSession(t, 'root', ['admins']);
    const token = await api(t, root, 'POST', '/tokens', { name: 'all', endpoint_access: { all: true } });
    expect(token.status, token.text).toBe(201);
    credential.api_token = token.body.token;
    const jwt = await getJson(`${t.node.urls.management}/api/v1/issue-jwt?infrastructure=default`, t.keys.management);
    expect(jwt.status).toBe(200);
    credential.platform_jwt = (jwt.body as { token: string }).token;
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
  });

  const call = async (name: string, kind: string) => {
    const value = kind === 'api_key' && name === 'open' ? credential.open_api_key : credential[kind];
    const authorization = kind === 'basic' ? value : `Bearer ${value}`;
    const res = await fetch(`${t.node.urls.inference}/${name}/predict`, {
      headers: { authorization: `${authorization}` },
    });
    const text = await res.text();
    return { status: res.status, text, www: res.headers.get('www-authenticate') };
  };
  const cli = (args: string[]) => runCliToEnd([...args, '--endpoint', t.node.urls.management], { cwd });

  it('`deployments show` lists exactly the kinds that open it: each listed kind is admitted, every other refused', async () => {
    for (const name of ['open', 'jwt-only']) {
      const info = (await manage(t, 'GET', `/deployments/${name}`)).body;
      const shown = await cli(['deployments', 'show', name]);
      expect(shown.code, shown.all).toBe(0);
      const authLine = shown.stdout.split('\n').find((l) => l.startsWith('auth'));
      for (const kind of ['inference_key', 'basic', 'api_key', 'api_token', 'platform_jwt']) {
        const res = await call(name, kind);
        const admitted = (info.admits as string[]).includes(kind);
        expect(res.status, `${name} with ${kind}: ${res.text}`).toBe(admitted ? 200 : 401);
        const words = {
          inference_key: 'node inference key',
          basic: 'Basic (secret pw)',
          api_key: 'API keys',
          api_token: 'API tokens',
          platform_jwt: 'platform JWTs',
        }[kind] as string;
        expect(authLine?.includes(words), `${name}: ${authLine} / ${kind}`).toBe(admitted);
      }
    }
    expect((await manage(t, 'GET', '/deployments/open')).body.admits).toEqual([
      'basic',
      'api_key',
      'api_token',
      'platform_jwt',
      'inference_key',
    ]);
  });

  it('a refused kind is told why, and a JWT-only deployment offers no Basic prompt', async () => {
    const refused = await call('jwt-only', 'api_token');
    expect(JSON.parse(refused.text).error.message).toBe('This deployment does not accept API tokens');
    expect(JSON.parse((await call('jwt-only', 'inference_key')).text).error.message).toBe(
      'This deployment does not accept node keys',
    );
    expect(refused.www).toMatch(/^Bearer /);
    expect(refused.www).not.toContain('Basic');
  });

  it('the CLI narrows and widens the list; other settings stay as they were', async () => {
    const narrowed = await cli(['deployments', 'update', 'open', '--credentials', 'api_key,api_token']);
    expect(narrowed.code, narrowed.all).toBe(0);
    expect(narrowed.stdout).toMatch(/auth:\s+API keys, API tokens \(only these, by its credentials list\)/);
    expect((await call('open', 'inference_key')).status).toBe(401);
    expect((await call('open', 'api_token')).status).toBe(200);
    const info = (await manage(t, 'GET', '/deployments/open')).body;
    expect(info.auth).toMatchObject({ basic_secret: 'pw', api_keys: true, credentials: ['api_key', 'api_token'] });
    // Basic is off while the list leaves it out, though its secret is kept for when it is back.
    expect((await call('open', 'basic')).status).toBe(401);

    const widened = await cli(['deployments', 'update', 'open', '--credentials', 'all']);
    expect(widened.code, widened.all).toBe(0);
    for (const kind of ['inference_key', 'basic', 'api_key', 'api_token', 'platform_jwt']) {
      expect((await call('open', kind)).status, kind).toBe(200);
    }
  });

  it('bad lists are refused with what to do, by the API and the CLI', async () => {
    const cases: [unknown, string][] = [
      [[], 'must name at least one credential kind'],
      [['platform_jtw'], 'unknown credential kind "platform_jtw"; did you mean platform_jwt?'],
      [['api_token', 'api_token'], 'names a kind more than once'],
      ['platform_jwt', 'body.auth.credentials must be array,null'],
      [['oidc'], 'auth.credentials would admit no credential (oidc needs an OIDC issuer (oidc))'],
    ];
    for (const [credentials, message] of cases) {
      const res = await manage(t, 'PATCH', '/deployments/jwt-only', { auth: { credentials } });
      expect(res.status, JSON.stringify(credentials)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toContain(message);
    }
    // A change is judged as applied: a listed kind counts while its setting is on, and turning
    // off the last way in is refused.
    await manage(t, 'PATCH', '/deployments/jwt-only', { auth: { credentials: ['api_key', 'platform_jwt'] } });
    const narrowed = await cli(['deployments', 'update', 'jwt-only', '--api-keys', 'off']);
    expect(narrowed.code, narrowed.all).toBe(0);
    expect(narrowed.stdout).toMatch(/auth:\s+platform JWTs \(only these/);
    await manage(t, 'PATCH', '/deployments/jwt-only', { auth: { credentials: ['api_key'], api_keys: true } });
    const off = await cli(['deployments', 'update', 'jwt-only', '--api-keys', 'off']);
    expect(off.code).not.toBe(0);
    expect(off.stderr).toContain(
      'auth.credentials would admit no credential (api_key needs API keys turned on (api_keys: true))',
    );
    const typo = await cli(['deployments', 'update', 'jwt-only', '--credentials', 'platform_jtw']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"platform_jtw" is not a credential kind (did you mean platform_jwt?)');
    await manage(t, 'PATCH', '/deployments/jwt-only', { auth: { credentials: ['platform_jwt'] } });
    expect((await manage(t, 'GET', '/deployments/jwt-only')).body.admits).toEqual(['platform_jwt']);
  });

  it('a service version can list them too, and `services versions show` says what it admits', async () => {
    const made = await cli([
      'services',
      'versions',
      'create',
      'jwt-only',
      '2',
      '--credentials',
      'platform_jwt,api_token',
    ]);
    expect(made.code, made.all).toBe(0);
    expect(made.stdout).toContain('Created version 2 of service jwt-only: API tokens, platform JWTs;');
  });

  it('apply, diff and export carry the list', async () => {
    const file = join(cwd, 'modelgate.yaml');
    const doc = {
      version: 1,
      deployments: [{ name: 'declared', upstream: up.url, auth: { credentials: ['api_token'] } }],
    };
    writeFileSync(file, stringify(doc));
    const applied = await cli(['apply', '-f', file]);
    expect(applied.code, applied.all).toBe(0);
    expect((await call('declared', 'api_token')).status).toBe(200);
    expect((await call('declared', 'platform_jwt')).status).toBe(401);
    expect((await cli(['diff', '-f', file])).stdout).not.toContain('declared');

    doc.deployments[0]!.auth.credentials = ['api_token', 'platform_jwt'];
    writeFileSync(file, stringify(doc));
    const diff = await cli(['diff', '-f', file]);
    expect(diff.stdout).toContain('credentials: [api_token, platform_jwt]');

    const exported = await cli(['export']);
    expect(exported.code, exported.all).toBe(0);
    expect(exported.stdout).toMatch(/name: declared[\s\S]*credentials:\s*\n\s*- api_token/);
    // The default (every kind) is not written out.
    expect(exported.stdout).not.toContain('credentials: null');
  });

  it('every kind the API can name is one the CLI and the OpenAPI document know', async () => {
    const spec = (await getJson(`${t.node.urls.management}/api/v1/openapi.json`)).body as any;
    const schema = spec.components.schemas.AuthSettings.properties.credentials;
    expect(schema.items.enum).toEqual([...CREDENTIAL_KINDS]);
  });
});
