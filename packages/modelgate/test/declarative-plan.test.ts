import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { CurrentState } from '../src/cli/declarative/current.js';
import { exportState } from '../src/cli/declarative/export.js';
import { planChanges } from '../src/cli/declarative/plan.js';
import { renderActions } from '../src/cli/declarative/render.js';
import { type DesiredState, parseDesiredState } from '../src/cli/declarative/schema.js';
import { readSecretValues } from '../src/cli/declarative/secret-values.js';
import type { DeploymentInfo } from '../src/controlplane/operations/deployments.js';
import { DEFAULT_AUTH_SETTINGS } from '../src/kernel/auth-settings.js';

/** The planner and the file schema as pure functions: no node, no I/O. */

const EMPTY: CurrentState = {
  infrastructures: [],
  services: [],
  versions: [],
  secrets: [],
  deployments: [],
  apiKeyCounts: {},
};

function desired(doc: unknown, allowInlineSecrets = false): DesiredState {
  const result = parseDesiredState(doc, { allowInlineSecrets });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.state;
}

function deployed(over: Partial<DeploymentInfo> & { name: string }): DeploymentInfo {
  return {
    infrastructure: 'default',
    service: over.name,
    version: '1',
    upstream: 'http://127.0.0.1:9000',
    access: 'protected',
    enabled: true,
    revision: 1,
    auth: DEFAULT_AUTH_SETTINGS,
    auth_source: 'version',
    admits: ['api_key', 'api_token', 'platform_jwt', 'inference_key'],
    rate_limit: null,
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

/** A node with one deployment `demo` as `modelgate deploy demo --upstream ...` leaves it. */
const ONE: CurrentState = {
  infrastructures: [{ name: 'default', description: '' }],
  services: [{ name: 'demo', description: '' }],
  versions: [{ service: 'demo', version: '1', auth: DEFAULT_AUTH_SETTINGS }],
  secrets: [],
  deployments: [deployed({ name: 'demo' })],
  apiKeyCounts: { 'deployment:demo': 1 },
};

const summary = (state: DesiredState, current: CurrentState, prune = false) =>
  planChanges(state, current, { prune }).actions.map((a) => `${a.op} ${a.kind} ${a.name}`);

describe('planChanges', () => {
  it('short form on an empty node: one deployment create that names what deploy makes on the way', () => {
    const plan = planChanges(
      desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', access: 'public' }] }),
      EMPTY,
      { prune: false },
    );
    expect(plan.problems).toEqual([]);
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]?.requests).toEqual([
      {
        method: 'POST',
        path: '/api/v1/deployments',
        body: { name: 'demo', upstream: 'http://127.0.0.1:9000', access: 'public' },
      },
    ]);
    expect(plan.actions[0]?.changes.at(-1)).toBe('also creates infrastructure default, service demo, version demo@1');
  });

  it('the same state as the node: no actions, and the rendering says so', () => {
    const plan = planChanges(desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000' }] }), ONE, {
      prune: true,
    });
    expect(plan).toEqual({ actions: [], problems: [], unknown: [] });
    expect(renderActions(plan.actions)).toMatch(/^No changes/);
  });

  it('only what differs is updated; a field left out is not managed', () => {
    const plan = planChanges(
      desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9001', enabled: false }] }),
      ONE,
      { prune: false },
    );
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]?.requests).toEqual([
      { method: 'PATCH', path: '/api/v1/deployments/demo', body: { upstream: 'http://127.0.0.1:9001' } },
      { method: 'POST', path: '/api/v1/deployments/demo/disable' },
    ]);
  });

  it('auth is compared with the effective settings: equal to the version’s is no change, different is an override', () => {
    const same = desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: {} }] });
    expect(summary(same, ONE)).toEqual([]);
    const other = desired({
      deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: { basic_secret: 'pw' } }],
    });
    const plan = planChanges(other, { ...ONE, secrets: [{ name: 'pw' }] }, { prune: false });
    expect(plan.problems).toEqual([]);
    expect(plan.actions[0]?.requests[0]?.body).toEqual({
      auth: { basic_secret: 'pw', api_keys: true, forward_credential: false, credentials: null },
    });
  });

  it('auth: null removes an override (the deployment follows its version again); on a follower it is no change', () => {
    const follow = desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: null }] });
    expect(summary(follow, ONE)).toEqual([]);
    const overridden: CurrentState = {
      ...ONE,
      deployments: [
        deployed({ name: 'demo', auth: { ...DEFAULT_AUTH_SETTINGS, api_keys: false }, auth_source: 'override' }),
      ],
    };
    const plan = planChanges(follow, overridden, { prune: false });
    expect(plan.actions[0]?.requests).toEqual([
      { method: 'PATCH', path: '/api/v1/deployments/demo', body: { auth: null } },
    ]);
  });

  it('API key counts are minimums: only the missing ones are created, extra ones stay', () => {
    const three = desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', api_keys: 3 }] });
    const plan = planChanges(three, ONE, { prune: true });
    expect(plan.actions.map((a) => a.requests[0]?.body)).toEqual([
      { deployment: 'demo', count: 2, description: 'created by modelgate apply' },
    ]);
    const zero = desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', api_keys: 0 }] });
    expect(summary(zero, ONE, true)).toEqual([]);
  });

  it('without prune nothing is deleted; with prune, dependants go first and what kept things use stays', () => {
    const current: CurrentState = {
      ...ONE,
      infrastructures: [...ONE.infrastructures, { name: 'old-infra', description: '' }],
      services: [...ONE.services, { name: 'old' }].map((s) => ({ description: '', ...s })),
      versions: [
        ...ONE.versions,
        { service: 'old', version: '1', auth: { ...DEFAULT_AUTH_SETTINGS, basic_secret: 'old-pw' } },
      ],
      secrets: [{ name: 'old-pw' }, { name: 'pw' }],
      deployments: [
        deployed({ name: 'demo', auth: { ...DEFAULT_AUTH_SETTINGS, basic_secret: 'pw' }, auth_source: 'override' }),
        deployed({ name: 'old', infrastructure: 'old-infra' }),
      ],
    };
    const state = desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000' }] });
    expect(summary(state, current, false)).toEqual([]);
    expect(summary(state, current, true)).toEqual([
      'delete deployment old',
      'delete version old@1',
      'delete service old',
      'delete infrastructure old-infra',
      'delete secret old-pw',
    ]);
  });

  it('conflicts with the node are problems, all of them, and never silently applied', () => {
    const current = ONE;
    const plan = planChanges(
      desired({
        secrets: [{ name: 'elsewhere' }],
        services: [{ name: 'demo', versions: [{ version: '1', auth: { api_keys: false } }] }],
        deployments: [
          { name: 'demo', upstream: 'http://127.0.0.1:9000', service: 'other', version: '7' },
          { name: 'new', upstream: 'http://127.0.0.1:9000', auth: { basic_secret: 'nowhere' } },
        ],
      }),
      current,
      { prune: false },
    );
    expect(plan.problems).toEqual([
      expect.stringContaining('secrets "elsewhere": not on the node'),
      expect.stringContaining('versions are immutable'),
      expect.stringContaining('service is demo on the node, the file says other'),
      expect.stringContaining('version "7" of service demo is neither in the file nor on the node'),
      expect.stringContaining('auth.basic_secret "nowhere" is neither'),
    ]);
  });

  it('a description that differs is updated; one left out is not managed', () => {
    const current: CurrentState = {
      ...ONE,
      infrastructures: [{ name: 'default', description: 'old words' }],
      services: [{ name: 'demo', description: 'the demo' }],
    };
    const plan = planChanges(
      desired({
        infrastructures: [{ name: 'default', description: 'new words' }],
        services: [{ name: 'demo' }],
      }),
      current,
      { prune: false },
    );
    expect(plan.problems).toEqual([]);
    expect(plan.actions.map((a) => [a.op, a.kind, a.name, a.requests])).toEqual([
      [
        'update',
        'infrastructure',
        'default',
        [{ method: 'PATCH', path: '/api/v1/infrastructures/default', body: { description: 'new words' } }],
      ],
    ]);
    expect(plan.actions[0]?.changes).toEqual(['description: "old words" → "new words"']);
    expect(summary(desired({ infrastructures: [{ name: 'default', description: 'old words' }] }), current)).toEqual([]);
  });

  it('external OIDC settings are part of auth: a changed audience updates the override, a version’s is immutable', () => {
    const oidc = (audience: string) => ({ issuer: 'https://idp.example', audiences: [audience] });
    const stored = desired({
      deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: { oidc: oidc('api://a') } }],
    }).deployments[0]!.auth!;
    const current: CurrentState = {
      ...ONE,
      versions: [{ service: 'demo', version: '1', auth: stored }],
      deployments: [deployed({ name: 'demo', auth: stored, auth_source: 'override' })],
    };
    // The same settings, written with the defaults spelled out and keys in another order: no change.
    const same = desired({
      deployments: [
        {
          name: 'demo',
          upstream: 'http://127.0.0.1:9000',
          auth: { oidc: { audiences: ['api://a'], issuer: 'https://idp.example', jwks_url: null } },
        },
      ],
    });
    expect(summary(same, current)).toEqual([]);
    const moved = desired({
      deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: { oidc: oidc('api://b') } }],
    });
    const plan = planChanges(moved, current, { prune: false });
    expect(plan.problems).toEqual([]);
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]?.requests[0]?.body).toMatchObject({ auth: { oidc: { audiences: ['api://b'] } } });
    expect(plan.actions[0]?.changes[0]).toContain('api://b');
    // Dropping the external issuer is a change too; an auth block that does not name it keeps it.
    expect(
      summary(
        desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: { oidc: null } }] }),
        current,
      ),
    ).toEqual(['update deployment demo']);
    expect(
      summary(desired({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000', auth: {} }] }), current),
    ).toEqual([]);
    const version = planChanges(
      desired({ services: [{ name: 'demo', versions: [{ version: '1', auth: { oidc: oidc('api://b') } }] }] }),
      current,
      { prune: false },
    );
    expect(version.problems).toEqual([expect.stringContaining('versions are immutable')]);
  });

  it('a secret to create carries no value in the plan: the runner adds it from its source', () => {
    const plan = planChanges(desired({ secrets: [{ name: 'pw', value: 'v3ry-s3cret' }] }, true), EMPTY, {
      prune: false,
    });
    expect(plan.actions).toHaveLength(1);
    expect(plan.actions[0]?.secretValueOf).toBe('pw');
    expect(JSON.stringify(plan)).not.toContain('v3ry-s3cret');
  });

  it('plans the full form in dependency order', () => {
    const state = desired({
      infrastructures: [{ name: 'prod' }],
      secrets: [{ name: 'pw', from_env: 'PW' }],
      services: [{ name: 'svc', versions: [{ version: 2, auth: { basic_secret: 'pw' }, api_keys: 1 }] }],
      deployments: [
        {
          name: 'd',
          upstream: 'http://127.0.0.1:9000',
          infrastructure: 'prod',
          service: 'svc',
          version: '2',
          api_keys: 1,
        },
      ],
    });
    expect(summary(state, EMPTY)).toEqual([
      'create infrastructure prod',
      'create service svc',
      'create secret pw',
      'create version svc@2',
      'create deployment d',
      'create api-keys version svc@2',
      'create api-keys deployment d',
    ]);
    // The deployment does not claim to create what earlier actions created.
    const d = planChanges(state, EMPTY, { prune: false }).actions.find((a) => a.kind === 'deployment');
    expect(d?.changes.join()).not.toContain('also creates');
  });
});

describe('parseDesiredState', () => {
  it('reports every problem at once, each with the path of its field', () => {
    const result = parseDesiredState({
      version: 3,
      grants: [],
      extra: 1,
      secrets: [{ name: 'a', from_env: 'A', from_file: 'f' }, { name: 'a' }, { name: 'b', value: 'v4lue-xyz' }],
      services: [
        { name: 'svc', versions: [{ version: '1' }, { version: '1' }, { version: 'bad version' }, { version: 1.1 }] },
      ],
      deployments: [{ name: 'd', upstream: 'http://x', enabled: 'yes', auth: { api_keys: 'no' }, nope: 1 }, 'x'],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      expect.stringMatching(/^grants: not in format version 1/),
      expect.stringMatching(/^extra: unknown key/),
      expect.stringMatching(/^version: must be 1/),
      expect.stringMatching(/^services\[0\]\.versions\[1\]\.version: "1" is already declared/),
      expect.stringMatching(/^services\[0\]\.versions\[2\]\.version: must be/),
      // YAML read `1.10` as 1.1: refused rather than deployed as the wrong version.
      expect.stringMatching(/^services\[0\]\.versions\[3\]\.version: must be .*quote it/),
      expect.stringMatching(/^secrets\[0\]: give one of from_env, from_file or value/),
      expect.stringMatching(/^secrets\[1\]\.name: "a" is already declared at secrets\[0\]/),
      expect.stringMatching(/^secrets\[2\]\.value: inline secret values are refused unless --allow-inline-secrets/),
      expect.stringMatching(/^deployments\[0\]\.nope: unknown key/),
      expect.stringMatching(/^deployments\[0\]\.enabled: must be true or false/),
      expect.stringMatching(/^deployments\[0\]\.auth\.api_keys must be a boolean/),
      expect.stringMatching(/^deployments\[1\]: must be a mapping/),
    ]);
    expect(result.problems.join('\n')).not.toContain('v4lue-xyz');
  });

  it('an empty file is an empty desired state (apply of it changes nothing, or with --prune empties the node)', () => {
    expect(parseDesiredState(null)).toEqual({
      ok: true,
      state: { infrastructures: [], services: [], versions: [], secrets: [], deployments: [] },
    });
  });
});

describe('exportState', () => {
  it('writes the full form without values; parsing and planning it against the same node is no change', () => {
    const current: CurrentState = {
      ...ONE,
      secrets: [{ name: 'pw' }],
      deployments: [
        deployed({ name: 'demo', auth: { ...DEFAULT_AUTH_SETTINGS, basic_secret: 'pw' }, auth_source: 'override' }),
        deployed({ name: 'follower', service: 'demo' }),
      ],
    };
    const doc = exportState(current);
    expect((doc.deployments as { auth: unknown }[]).map((d) => d.auth)).toEqual([
      { basic_secret: 'pw', api_keys: true, forward_credential: false },
      null,
    ]);
    expect(doc.secrets).toEqual([{ name: 'pw', from_env: 'MODELGATE_SECRET_PW' }]);
    expect(summary(desired(doc), current, true)).toEqual([]);
  });
});

describe('examples/deployments.yaml', () => {
  it('is a valid file whose plan on an empty node has no problems', () => {
    const text = readFileSync(join(import.meta.dirname, '../../../examples/deployments.yaml'), 'utf8');
    const state = desired(parseYaml(text));
    expect(state.deployments.map((d) => d.name)).toEqual(['sentiment', 'chat']);
    expect(planChanges(state, EMPTY, { prune: false }).problems).toEqual([]);
  });
});

describe('readSecretValues', () => {
  it('reads env and files (one trailing newline dropped); refuses unset, empty, missing, special and huge sources without quoting values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelgate-secrets-'));
    writeFileSync(join(dir, 'pw.txt'), 'from-file\n');
    writeFileSync(join(dir, 'empty.txt'), '\n');
    writeFileSync(join(dir, 'huge.txt'), 'x'.repeat(20_000));
    const read = readSecretValues(
      [
        { name: 'a', source: { kind: 'env', variable: 'A' } },
        { name: 'b', source: { kind: 'file', path: 'pw.txt' } },
        { name: 'c', source: { kind: 'env', variable: 'UNSET' } },
        { name: 'd', source: { kind: 'file', path: 'empty.txt' } },
        { name: 'e', source: { kind: 'file', path: 'missing.txt' } },
        { name: 'f', source: { kind: 'file', path: '/dev/zero' } },
        { name: 'g', source: { kind: 'file', path: 'huge.txt' } },
        { name: 'h', source: { kind: 'file', path: '.' } },
      ],
      { env: { A: 'from-env' }, baseDir: dir },
    );
    expect(Object.fromEntries(read.values)).toEqual({ a: 'from-env', b: 'from-file' });
    expect(read.problems).toEqual([
      'secrets "c": environment variable UNSET is not set',
      'secrets "d": file empty.txt is empty',
      'secrets "e": file missing.txt cannot be read (no such file)',
      'secrets "f": /dev/zero is not a regular file',
      'secrets "g": file huge.txt is larger than a secret can be',
      'secrets "h": . is not a regular file',
    ]);
  });
});

describe('groups and grants (format version 2)', () => {
  /** ONE with user alice and bob, group ml (alice, bob) granted deploy on the service demo. */
  const WITH_ACCESS: CurrentState = {
    ...ONE,
    access: {
      usernames: ['alice', 'bob'],
      groups: [{ name: 'ml', privileges: [], members: ['alice', 'bob'] }],
      grants: [{ group: 'ml', type: 'service', resource: 'demo', rights: ['deploy'] }],
    },
  };
  const demo = { name: 'demo', upstream: 'http://127.0.0.1:9000' };

  it('members are pruned only with --prune and only when the file gives members; rights compare as sets', () => {
    const state = desired({
      version: 2,
      deployments: [demo],
      groups: [{ name: 'ml', members: ['alice'] }],
      grants: [{ group: 'ml', service: 'demo', rights: ['deploy'] }],
    });
    expect(summary(state, WITH_ACCESS)).toEqual([]);
    expect(summary(state, WITH_ACCESS, true)).toEqual(['update group ml']);
    const unmanaged = desired({ version: 2, deployments: [demo], groups: [{ name: 'ml' }], grants: [] });
    expect(summary(unmanaged, WITH_ACCESS, true)).toEqual(['delete grant ml on service demo']);
  });

  it('with --prune a group not in the file is deleted with its grants (no separate grant deletion)', () => {
    const state = desired({ version: 2, deployments: [demo] });
    expect(summary(state, WITH_ACCESS, true)).toEqual(['delete group ml']);
    // A grant on what --prune deletes is refused, not planned.
    const onPruned = desired({
      version: 2,
      groups: [{ name: 'ml' }],
      grants: [{ group: 'ml', service: 'demo', rights: ['read'] }],
    });
    expect(planChanges(onPruned, WITH_ACCESS, { prune: true }).unknown).toEqual([
      'grants[0].service: service "demo" is not in the file, so --prune deletes it (declare it)',
    ]);
    // A version 1 file leaves permissions alone, even with --prune.
    expect(summary(desired({ deployments: [demo] }), WITH_ACCESS, true)).toEqual([]);
  });

  it('grant targets created by the same file are known; unknown names are listed, not planned', () => {
    const state = desired({
      version: 2,
      infrastructures: [{ name: 'prod' }],
      groups: [{ name: 'new', members: ['carol'] }],
      grants: [
        { group: 'new', infrastructure: 'prod', rights: ['view'] },
        { group: 'new', secret: 'nope', rights: ['use'] },
      ],
    });
    const plan = planChanges(state, WITH_ACCESS, { prune: false });
    expect(plan.unknown).toEqual([
      'groups[0].members: user "carol" is not on the node (create it first)',
      'grants[1].secret: secret "nope" is neither in the file nor on the node',
    ]);
    expect(plan.actions.map((a) => `${a.op} ${a.kind} ${a.name}`)).toEqual([
      'create infrastructure prod',
      'create group new',
      'create grant new on infrastructure prod',
    ]);
  });

  it('the file schema: one target per grant, known rights and privileges, no duplicates', () => {
    const result = parseDesiredState({
      version: 2,
      groups: [{ name: 'ml', privileges: ['root'] }, { name: 'ml' }],
      grants: [
        { group: 'ml', service: 'a', infrastructure: 'b', rights: ['read'] },
        { group: 'ml', service: 'a', rights: ['use'] },
        { group: 'ml', service: 'a', rights: ['read'] },
      ],
    });
    expect(result.ok ? [] : result.problems).toEqual([
      'groups[0].privileges: must be a list of admin, create_service',
      'groups[1].name: "ml" is already declared at groups[0]',
      'grants[0]: name exactly one of infrastructure, service, secret, not infrastructure and service',
      'grants[1].rights: must be a list of read, write, deploy, admin',
      'grants[2]: "ml on service a" is already declared at grants[1]',
    ]);
  });
});
