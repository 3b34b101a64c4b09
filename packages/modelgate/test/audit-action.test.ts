import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { actionParams, describeAction, safeName, UNSAFE_NAME } from '../src/controlplane/audit/action.js';
import { generateCredential } from '../src/kernel/credential.js';
import { outcomeOf } from '../src/store/audit-record.js';

describe('describeAction names management requests from the route pattern', () => {
  const cases: [string, string, Record<string, string>, string | undefined, string, string, string | undefined][] = [
    ['POST', '/api/v1/deployments', {}, 'sentiment', 'deployment.create', 'deployment', 'sentiment'],
    ['POST', '/api/v1/deployments', {}, undefined, 'deployment.create', 'deployment', undefined],
    [
      'PATCH',
      '/api/v1/deployments/:name',
      { name: 'sentiment' },
      undefined,
      'deployment.update',
      'deployment',
      'sentiment',
    ],
    [
      'DELETE',
      '/api/v1/deployments/:name',
      { name: 'sentiment' },
      undefined,
      'deployment.delete',
      'deployment',
      'sentiment',
    ],
    ['POST', '/api/v1/deployments/:name/redeploy', { name: 'a' }, undefined, 'deployment.redeploy', 'deployment', 'a'],
    ['POST', '/api/v1/deployments/:name/enable', { name: 'a' }, 'ignored', 'deployment.enable', 'deployment', 'a'],
    ['GET', '/api/v1/deployments', {}, undefined, 'deployment.list', 'deployment', undefined],
    ['GET', '/api/v1/deployments/:name', { name: 'a' }, undefined, 'deployment.read', 'deployment', 'a'],
    ['PUT', '/api/v1/secrets/:name', { name: 'hf-basic' }, undefined, 'secret.update', 'secret', 'hf-basic'],
    [
      'POST',
      '/api/v1/services/:name/versions',
      { name: 's' },
      '1.0',
      'service.version.create',
      'service.version',
      's/1.0',
    ],
    [
      'DELETE',
      '/api/v1/services/:name/versions/:version',
      { name: 's', version: '1.0' },
      undefined,
      'service.version.delete',
      'service.version',
      's/1.0',
    ],
    ['GET', '/api/v1/api-keys/:id/reveal', { id: 'key_abc' }, undefined, 'api_key.reveal', 'api_key', 'key_abc'],
    ['DELETE', '/api/v1/api-keys/:id', { id: 'key_abc' }, undefined, 'api_key.delete', 'api_key', 'key_abc'],
    [
      'PUT',
      '/api/v1/groups/:name/members/:username',
      { name: 'ops', username: 'al' },
      undefined,
      'group.member.update',
      'group.member',
      'ops/al',
    ],
    [
      'PUT',
      '/api/v1/infrastructures/:name/grants/:group',
      { name: 'prod', group: 'ops' },
      undefined,
      'infrastructure.grant.update',
      'infrastructure.grant',
      'prod/ops',
    ],
    ['DELETE', '/api/v1/sessions/current', {}, undefined, 'session.delete', 'session', 'current'],
    ['GET', '/api/v1/audit', {}, undefined, 'audit.list', 'audit', undefined],
    ['POST', '/token', { type: 'management' }, undefined, 'node_key.rotate', 'node_key', 'management'],
    ['GET', '/api/v1/issue-jwt', { deployment: 'sentiment' }, undefined, 'jwt.issue', 'deployment', 'sentiment'],
    ['POST', '/api/v1/issue-jwt', { infrastructure: 'prod' }, undefined, 'jwt.issue', 'infrastructure', 'prod'],
    [
      'POST',
      '/api/v1/issue-jwt',
      { deployment: '', infrastructure: 'prod' },
      undefined,
      'jwt.issue',
      'infrastructure',
      'prod',
    ],
    ['GET', '/api/v1/issue-jwt', {}, undefined, 'jwt.issue', 'jwt', undefined],
    ['GET', '/api/v1/issue-jwt', { deployment: 'a b' }, undefined, 'jwt.issue', 'deployment', UNSAFE_NAME],
  ];
  it.each(cases)('%s %s', (method, pattern, params, created, action, targetKind, targetName) => {
    expect(describeAction(method, pattern, params, created)).toEqual({ action, targetKind, targetName });
  });
});

describe('safeName keeps plain names and ids only', () => {
  it('passes names and ids', () => {
    for (const name of ['sentiment', 'hf-basic', 'v1.2_rc', 'key_4Jx9', 'ak_abc', 'node:x'.replace(':', '-')]) {
      expect(safeName(name)).toBe(name);
    }
  });
  it('refuses credentials, their hashes, and anything that is not a plain name', () => {
    const key = generateCredential('api_key');
    for (const value of [
      key,
      `x${key}`,
      generateCredential('admin_key'),
      generateCredential('secret'),
      createHash('sha256').update(key).digest('hex'),
      createHash('sha256').update('hunter2').digest('hex').slice(0, 40),
      'two words',
      'a/b',
      '../etc',
      '',
      'x'.repeat(200),
      42,
      undefined,
    ]) {
      expect(safeName(value), String(value)).toBe(UNSAFE_NAME);
    }
  });
});

describe('outcomeOf', () => {
  it.each([
    [200, false, 'allowed'],
    [204, false, 'allowed'],
    [401, false, 'denied'],
    [403, false, 'denied'],
    [429, false, 'denied'],
    [404, false, 'failed'],
    [404, true, 'denied'],
    [409, false, 'failed'],
    [500, false, 'failed'],
  ] as const)('%i (hidden %s) → %s', (status, hidden, outcome) => {
    expect(outcomeOf(status, hidden)).toBe(outcome);
  });
});

describe('actionParams reads only the fields that name a target', () => {
  it('path parameters for ordinary routes; the named query or body fields (body first) for the rest', () => {
    expect(actionParams('/api/v1/deployments/:name', { name: 'a' }, { q: 'x' }, { b: 'y' })).toEqual({ name: 'a' });
    expect(actionParams('/token', {}, { type: 'inference', extra: 'mgk_secret' }, undefined)).toEqual({
      type: 'inference',
    });
    expect(
      actionParams('/api/v1/issue-jwt', {}, { deployment: 'q', expires_at: 'x' }, { deployment: 'b', token: 't' }),
    ).toEqual({ deployment: 'b' });
    expect(actionParams('/api/v1/issue-jwt', {}, { infrastructure: 'i' }, null)).toEqual({ infrastructure: 'i' });
    // An inherited property is no field.
    expect(actionParams('/api/v1/issue-jwt', {}, Object.create({ deployment: 'proto' }), undefined)).toEqual({});
  });
});
