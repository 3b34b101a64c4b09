import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';

/**
 * Issue 22, item 5: external OIDC settings and service versions from the CLI alone: `deploy` and
 * `services versions create` take `--oidc-*` flags, `deployments show` and `services versions
 * show` display them, and `services show` lists a service's versions and grants.
 */

let node: NodeProcess;
const cli = (args: string[]) => runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd });
const OIDC_FLAGS = [
  '--oidc-issuer',
  'https://idp.example',
  '--oidc-audience',
  'api://models',
  '--oidc-required-scope',
  'predict',
  '--oidc-required-claim',
  'tenant=acme',
];

beforeAll(async () => {
  node = await startNodeProcess();
});
afterAll(async () => {
  await node?.stop();
});

describe('OIDC from the CLI', () => {
  it('deploy --oidc-* sets the external issuer; deployments show displays it', async () => {
    const made = await cli(['deploy', 'guarded', '--upstream', 'http://127.0.0.1:9', ...OIDC_FLAGS]);
    expect(made.code, made.all).toBe(0);
    const json = JSON.parse((await cli(['deployments', 'show', 'guarded', '-o', 'json'])).stdout);
    expect(json.auth.oidc).toMatchObject({
      issuer: 'https://idp.example',
      audiences: ['api://models'],
      required_scopes: ['predict'],
      required_claims: { tenant: 'acme' },
      jwks_url: null,
    });
    const shown = await cli(['deployments', 'show', 'guarded']);
    expect(shown.stdout).toContain('OIDC access tokens of https://idp.example');
    expect(shown.stdout).toMatch(
      /^oidc:\s+issuer https:\/\/idp\.example; audiences api:\/\/models; keys by OpenID discovery; .*required claims tenant=acme; required scopes predict/m,
    );
  });

  it('a bad value is refused by the API with the field named; --oidc-algorithm lists the choices', async () => {
    const bad = await cli(['deployments', 'update', 'guarded', '--oidc-issuer', 'not a url']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('auth.oidc.issuer must be an http(s) URL');
    const alg = await cli(['deployments', 'update', 'guarded', '--oidc-algorithm', 'HS256']);
    expect(alg.code).toBe(2);
    expect(alg.stderr).toContain('RS256');
  });
});

describe('services versions', () => {
  it('create, list and show a version with its auth settings; services show lists versions and grants', async () => {
    expect((await cli(['services', 'create', 'nlp'])).code).toBe(0);
    expect((await cli(['secrets', 'create', 'nlp-pw', '--value', 'nlp-password-1'])).code).toBe(0);
    const v1 = await cli(['services', 'versions', 'create', 'nlp', '1', '--basic-secret', 'nlp-pw']);
    expect(v1.code, v1.all).toBe(0);
    expect(v1.stdout).toContain('Created version 1 of service nlp: Basic (secret nlp-pw), API keys');
    const v2 = await cli(['services', 'versions', 'create', 'nlp', '2', '--api-keys', 'off', ...OIDC_FLAGS]);
    expect(v2.code, v2.all).toBe(0);

    const list = await cli(['services', 'versions', 'list', 'nlp']);
    expect(list.stdout).toMatch(/^VERSION\s+AUTH\s+CREATED$/m);
    expect(list.stdout).toMatch(
      /^1\s+Basic \(secret nlp-pw\), API keys, API tokens, platform JWTs, node inference key; credential not forwarded/m,
    );
    expect(list.stdout).toMatch(
      /^2\s+API tokens, platform JWTs, OIDC access tokens of https:\/\/idp\.example, node inference key;/m,
    );
    expect(JSON.parse((await cli(['services', 'versions', 'list', 'nlp', '-o', 'json'])).stdout).items).toHaveLength(2);

    const show = await cli(['services', 'versions', 'show', 'nlp', '2']);
    expect(show.stdout).toMatch(/^oidc:\s+issuer https:\/\/idp\.example; audiences api:\/\/models/m);

    expect((await cli(['groups', 'create', 'readers'])).code).toBe(0);
    expect((await cli(['grants', 'set', 'service', 'nlp', 'readers', '--rights', 'read'])).code).toBe(0);
    const service = await cli(['services', 'show', 'nlp']);
    expect(service.stdout).toMatch(/^1\s+Basic/m);
    expect(service.stdout).toMatch(/^2\s+API tokens, platform JWTs, OIDC/m);
    expect(service.stdout).toMatch(/^readers\s+read$/m);
    const json = JSON.parse((await cli(['services', 'show', 'nlp', '-o', 'json'])).stdout);
    expect(json.versions.map((v: { version: string }) => v.version)).toEqual(['1', '2']);
    expect(json.grants).toEqual([{ group: 'readers', rights: ['read'] }]);
  });

  it('a version that exists is a conflict; versions are immutable', async () => {
    const again = await cli(['services', 'versions', 'create', 'nlp', '1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('RESOURCE_CONFLICT');
  });
});
