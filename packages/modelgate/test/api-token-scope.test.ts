import { describe, expect, it } from 'vitest';
import { parseEndpointAccess, tokenExpiry } from '../src/controlplane/operations/api-tokens.js';
import { endpointDenial, lifeDenial, readEndpointAccess } from '../src/kernel/endpoint-access.js';
import { Problems } from '../src/kernel/validation.js';

/** The pure decisions behind API tokens, on a frozen clock. */
const NOW = Date.parse('2030-06-01T12:00:00Z');
const life = (over: Partial<Parameters<typeof lifeDenial>[0]> = {}) => ({
  expiresAt: NOW + 60_000,
  retiresAt: null,
  ownerDisabled: false,
  ...over,
});

describe('lifeDenial', () => {
  it('lets a current token through and refuses at its expiry instant, not a millisecond later', () => {
    expect(lifeDenial(life(), NOW)).toBeUndefined();
    expect(lifeDenial(life(), NOW + 59_999)).toBeUndefined();
    expect(lifeDenial(life(), NOW + 60_000)?.denied).toBe('expired');
  });

  it('refuses a rolled token once its grace has ended, and any token of a disabled owner', () => {
    expect(lifeDenial(life({ retiresAt: NOW + 1000 }), NOW + 999)).toBeUndefined();
    expect(lifeDenial(life({ retiresAt: NOW + 1000 }), NOW + 1000)?.detail).toMatch(/grace period has ended/);
    expect(lifeDenial(life({ ownerDisabled: true }), NOW)?.denied).toBe('revoked');
  });
});

describe('endpointDenial', () => {
  it('opens every deployment with all, the listed ones with a list, none without endpoint access', () => {
    expect(endpointDenial({ all: true }, 'x')).toBeUndefined();
    expect(endpointDenial({ deployments: ['a', 'b'] }, 'b')).toBeUndefined();
    expect(endpointDenial({ deployments: ['a'] }, 'b')?.denied).toBe('forbidden');
    expect(endpointDenial(null, 'a')?.denied).toBe('forbidden');
  });

  it('reads the stored JSON; a row it cannot read opens nothing', () => {
    expect(readEndpointAccess(null)).toBeNull();
    expect(readEndpointAccess('{"all":true}')).toEqual({ all: true });
    expect(readEndpointAccess('{"deployments":["a"]}')).toEqual({ deployments: ['a'] });
    for (const broken of ['{', '{"all":"yes"}', '{"deployments":[1]}']) {
      expect(endpointDenial(readEndpointAccess(broken), 'a')?.denied, broken).toBe('forbidden');
    }
  });
});

describe('parseEndpointAccess and tokenExpiry', () => {
  it('takes exactly {all:true} or a list of 1-100 names (deduplicated)', () => {
    const ok = new Problems();
    expect(parseEndpointAccess(ok, { deployments: ['a', 'a', 'b'] })).toEqual({ deployments: ['a', 'b'] });
    expect(parseEndpointAccess(ok, undefined)).toBeNull();
    expect(() => ok.throwIfAny()).not.toThrow();
    for (const bad of [{ all: false }, { deployments: [] }, { deployments: Array(101).fill('a') }, [], 'all']) {
      const problems = new Problems();
      parseEndpointAccess(problems, bad);
      expect(() => problems.throwIfAny(), JSON.stringify(bad)).toThrow(/endpoint_access/);
    }
  });

  it('defaults to the default lifetime, capped by the maximum; refuses past or too-far instants', () => {
    const settings = { api_token_default_ttl_s: 100, api_token_max_ttl_s: 50 };
    expect(tokenExpiry(new Problems(), settings, NOW, undefined)).toBe(NOW + 50_000);
    const far = new Problems();
    tokenExpiry(far, settings, NOW, '2030-06-01T12:01:00Z');
    expect(() => far.throwIfAny()).toThrow(/at most 50 seconds/);
    const past = new Problems();
    tokenExpiry(past, settings, NOW, '2030-06-01T11:00:00Z');
    expect(() => past.throwIfAny()).toThrow(/in the future/);
  });
});
