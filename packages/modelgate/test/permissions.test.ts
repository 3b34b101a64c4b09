import { describe, expect, it } from 'vitest';
import { csrfAllowed } from '../src/controlplane/sessions/csrf.js';
import { passwordProblem } from '../src/kernel/password-policy.js';
import { type Actor, canSee, decide, type Holding, SUPERUSER } from '../src/kernel/permissions.js';

/** The pure decisions, case by case; the HTTP matrix (permissions-matrix.test.ts) covers the routes. */
function actor(
  holdings: Partial<Record<'infrastructure' | 'service' | 'secret', Record<string, Partial<Holding>>>>,
  privileges: ('admin' | 'create_service')[] = [],
): Actor {
  const map = (o: Record<string, Partial<Holding>> = {}) =>
    new Map(Object.entries(o).map(([k, v]) => [k, { rights: v.rights ?? [], owner: v.owner ?? false }]));
  return {
    superuser: false,
    privileges: new Set(privileges),
    holdings: {
      infrastructure: map(holdings.infrastructure),
      service: map(holdings.service),
      secret: map(holdings.secret),
    },
  };
}

describe('decide', () => {
  const ds = actor({
    service: { churn: { rights: ['deploy'] }, mine: { owner: true } },
    infrastructure: { dev: { rights: ['deploy'] }, prod: { rights: ['view'] } },
    secret: { pw: { rights: ['use'] } },
  });

  it('deployments need deploy on both the service and the infrastructure', () => {
    expect(decide(ds, { deployment: { service: 'churn', infrastructure: 'dev' }, right: 'deploy' })).toEqual({
      allowed: true,
    });
    expect(decide(ds, { deployment: { service: 'churn', infrastructure: 'prod' }, right: 'deploy' })).toEqual({
      allowed: false,
      denied: 'forbidden',
      missing: 'infrastructure:deploy',
    });
    expect(decide(ds, { deployment: { service: 'churn', infrastructure: 'prod' }, right: 'read' }).allowed).toBe(true);
  });

  it('a target without any right is hidden, not forbidden', () => {
    expect(decide(ds, { service: 'other', right: 'read' })).toMatchObject({ denied: 'hidden', type: 'service' });
    expect(decide(ds, { deployment: { service: 'churn', infrastructure: 'gpu' }, right: 'read' })).toMatchObject({
      denied: 'hidden',
      type: 'infrastructure',
    });
    expect(canSee(ds, 'secret', 'pw')).toBe(true);
    expect(canSee(ds, 'secret', 'other')).toBe(false);
  });

  it('owners hold every right; deploy implies read but not write or admin', () => {
    expect(decide(ds, { service: 'mine', right: 'admin' }).allowed).toBe(true);
    expect(decide(ds, { service: 'churn', right: 'read' }).allowed).toBe(true);
    expect(decide(ds, { service: 'churn', right: 'write' })).toMatchObject({ missing: 'service:write' });
    expect(decide(ds, { secret: 'pw', right: 'admin' })).toMatchObject({ missing: 'secret:admin' });
  });

  it('global privileges: create_service alone, and superusers may do anything', () => {
    expect(decide(ds, { global: 'create_service' })).toMatchObject({ missing: 'global:create_service' });
    expect(decide(actor({}, ['create_service']), { global: 'create_service' }).allowed).toBe(true);
    expect(decide(actor({}, ['create_service']), { global: 'admin' })).toMatchObject({ missing: 'global:admin' });
    expect(decide(SUPERUSER, { service: 'anything', right: 'admin' }).allowed).toBe(true);
  });
});

describe('password rules', () => {
  it('counts code points, refuses common passwords in any case, accepts long uncommon ones', () => {
    expect(passwordProblem('a'.repeat(11))).toMatch(/at least 12/);
    expect(passwordProblem('🔑'.repeat(12))).toBeUndefined();
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
    expect(passwordProblem('PassWord1234')).toMatch(/common/);
    expect(passwordProblem('123456789012')).toMatch(/common/);
    expect(passwordProblem('qwertyuiopasdfgh')).toMatch(/common/);
    expect(passwordProblem('tangerine orbit lamp')).toBeUndefined();
  });
});

describe('csrfAllowed', () => {
  const own = 'http://127.0.0.1:8081';
  it('reads always; writes with a same-origin Origin or the CSRF header only', () => {
    expect(csrfAllowed({ method: 'GET', ownOrigin: own })).toBe(true);
    expect(csrfAllowed({ method: 'POST', ownOrigin: own })).toBe(false);
    expect(csrfAllowed({ method: 'DELETE', origin: 'http://127.0.0.1:8082', ownOrigin: own })).toBe(false);
    expect(csrfAllowed({ method: 'PUT', origin: own, ownOrigin: own })).toBe(true);
    expect(csrfAllowed({ method: 'PATCH', csrfHeader: '1', ownOrigin: own })).toBe(true);
    expect(csrfAllowed({ method: 'POST', csrfHeader: ' ', ownOrigin: own })).toBe(false);
  });
});
