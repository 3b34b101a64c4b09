import { describe, expect, it } from 'vitest';
import { kindRefusal, reachDenial } from '../src/dataplane/authorize.js';
import type { Reach } from '../src/dataplane/verifier.js';
import type { DeploymentSnapshot } from '../src/kernel/deployment-snapshot.js';

/**
 * `authorize` holds every data-plane scope decision (issue 18): what a verifier proved (`Reach`)
 * against the deployment called. Pure, so each rule is shown on its own here; the end-to-end
 * tests (credential-issuer-bound, api-token-scope, platform-jwt, oidc) drive the same decisions
 * through real requests.
 */

const churn = {
  id: 'dep_churn',
  name: 'churn',
  revision: 3,
  service_id: 'svc_1',
  infrastructure_id: 'inf_prod',
  access: 'protected',
  basic: null,
  api_keys: { deployment_id: 'dep_churn', version_id: 'ver_7' },
  oidc: {
    issuer: 'https://idp.example',
    audiences: ['models'],
    jwks_url: null,
    algorithms: ['RS256'],
    required_claims: { team: 'ml' },
    required_scopes: ['predict'],
    clock_skew_s: 30,
  },
} as unknown as DeploymentSnapshot;

const oidc = (claims: Record<string, unknown>, scopes: string[]): Reach => ({
  kind: 'oidc',
  claims,
  scopes: new Set(scopes),
});

describe('reachDenial: a verified credential against the deployment called', () => {
  it.each<[string, Reach, string | undefined]>([
    ['the inference key reaches every deployment', { kind: 'node' }, undefined],
    ['a management key is the wrong plane (403)', { kind: 'other_plane' }, 'forbidden'],
    ['an API key of the deployment', { kind: 'owner', owner_type: 'deployment', owner_id: 'dep_churn' }, undefined],
    ['an API key of its current version', { kind: 'owner', owner_type: 'version', owner_id: 'ver_7' }, undefined],
    [
      'an API key of another deployment',
      { kind: 'owner', owner_type: 'deployment', owner_id: 'dep_fraud' },
      'forbidden',
    ],
    ['an API key of an older version', { kind: 'owner', owner_type: 'version', owner_id: 'ver_6' }, 'forbidden'],
    ['a token for every endpoint', { kind: 'endpoints', access: { all: true } }, undefined],
    ['a token listing the deployment', { kind: 'endpoints', access: { deployments: ['churn'] } }, undefined],
    ['a token listing others', { kind: 'endpoints', access: { deployments: ['fraud'] } }, 'forbidden'],
    ['a token without endpoint access', { kind: 'endpoints', access: null }, 'forbidden'],
    [
      'a JWT for the infrastructure',
      { kind: 'claim', scope: { infrastructure_id: 'inf_prod', infrastructure: 'prod' } },
      undefined,
    ],
    [
      'a JWT for the deployment',
      {
        kind: 'claim',
        scope: {
          infrastructure_id: 'inf_prod',
          infrastructure: 'prod',
          deployment_id: 'dep_churn',
          deployment: 'churn',
        },
      },
      undefined,
    ],
    [
      'a JWT for a sibling deployment',
      {
        kind: 'claim',
        scope: {
          infrastructure_id: 'inf_prod',
          infrastructure: 'prod',
          deployment_id: 'dep_fraud',
          deployment: 'fraud',
        },
      },
      'forbidden',
    ],
    [
      'a JWT for another infrastructure',
      { kind: 'claim', scope: { infrastructure_id: 'inf_dev', infrastructure: 'dev' } },
      'forbidden',
    ],
    ['Basic proven for this deployment', { kind: 'deployment', deployment_id: 'dep_churn' }, undefined],
    ['Basic proven for another deployment', { kind: 'deployment', deployment_id: 'dep_fraud' }, 'unknown'],
    ['an OIDC token with the claim and scope', oidc({ team: 'ml' }, ['predict', 'read']), undefined],
    ['an OIDC token whose claim is a list holding the value', oidc({ team: ['ops', 'ml'] }, ['predict']), undefined],
    ['an OIDC token without the claim', oidc({ team: 'ops' }, ['predict']), 'forbidden'],
    ['an OIDC token without the scope', oidc({ team: 'ml' }, ['read']), 'forbidden'],
  ])('%s', (_name, reach, denied) => {
    expect(reachDenial(reach, churn)?.denied).toBe(denied);
  });

  it('names what an OIDC token lacks', () => {
    expect(reachDenial(oidc({ team: 'ml' }, []), churn)?.detail).toBe('The token lacks the scope predict');
    expect(reachDenial(oidc({}, ['predict']), churn)?.detail).toBe('The token lacks the required claim team');
  });

  it('an API key or an OIDC token where the deployment no longer takes them is refused as unknown (401)', () => {
    const plain = { ...churn, api_keys: null, oidc: null } as DeploymentSnapshot;
    expect(reachDenial({ kind: 'owner', owner_type: 'deployment', owner_id: 'dep_churn' }, plain)?.denied).toBe(
      'unknown',
    );
    expect(reachDenial(oidc({ team: 'ml' }, ['predict']), plain)?.denied).toBe('unknown');
  });
});

describe('kindRefusal: the kinds a deployment takes at all, before any verification', () => {
  it('Basic only with a password, API keys only when enabled', () => {
    expect(kindRefusal('basic', churn)?.detail).toBe('This deployment does not accept Basic credentials');
    expect(kindRefusal('api_key', churn)).toBeUndefined();
    expect(kindRefusal('api_key', { ...churn, api_keys: null })?.detail).toBe(
      'This deployment does not accept API keys',
    );
    const withBasic = { ...churn, basic: { username: 'modelgate', password_hash: 'x' } };
    expect(kindRefusal('basic', withBasic)).toBeUndefined();
    for (const kind of ['inference_key', 'api_token', 'platform_jwt', 'external_jwt'] as const) {
      expect(kindRefusal(kind, churn)).toBeUndefined();
    }
  });

  it('a deployment that lists its kinds takes only those; the node’s other keys count as its key', () => {
    const jwtOnly = { ...churn, credentials: ['platform_jwt'] } as DeploymentSnapshot;
    expect(kindRefusal('platform_jwt', jwtOnly)).toBeUndefined();
    expect(kindRefusal('api_token', jwtOnly)?.detail).toBe('This deployment does not accept API tokens');
    for (const kind of ['inference_key', 'management_key', 'token_api_key'] as const) {
      expect(kindRefusal(kind, jwtOnly)?.detail).toBe('This deployment does not accept node keys');
      expect(kindRefusal(kind, jwtOnly)?.denied).toBe('unknown');
    }
    // Old snapshots (no list) and a null list take every kind, as before.
    expect(kindRefusal('api_token', { ...churn, credentials: null })).toBeUndefined();
  });
});
