import { describe, expect, it } from 'vitest';
import {
  CREDENTIAL_PREFIXES,
  type CredentialKind,
  constantTimeEqual,
  displayPrefix,
  generateCredential,
  hashCredential,
  parseCredential,
} from '../../src/kernel/credential.js';

const KINDS = Object.keys(CREDENTIAL_PREFIXES) as CredentialKind[];

describe('credential format', () => {
  it.each(KINDS)('%s: generated credentials parse back with their kind and hash', (kind) => {
    const value = generateCredential(kind);
    expect(value.startsWith(`${CREDENTIAL_PREFIXES[kind]}_`)).toBe(true);
    expect(value).toMatch(/^mg[a-z]{1,3}_[0-9A-Za-z]{36}$/);
    const parsed = parseCredential(value);
    expect(parsed).toEqual({ kind, value, hash: hashCredential(value) });
  });

  it('carries at least 128 bits of randomness: 10,000 credentials are all distinct', () => {
    const seen = new Set(Array.from({ length: 10_000 }, () => generateCredential('api_key')));
    expect(seen.size).toBe(10_000);
    // 30 base62 characters = log2(62^30) ≈ 178 bits.
    expect(30 * Math.log2(62)).toBeGreaterThan(128);
  });

  it('uses every base62 character, with no visible bias', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const body = generateCredential('api_key').slice(4, 34);
      for (const c of body) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(counts.size).toBe(62);
    const expected = (2000 * 30) / 62;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.25);
  });

  it('refuses a credential with one character changed (checksum)', () => {
    const value = generateCredential('management_key');
    for (const index of [5, 20, value.length - 1]) {
      const c = value[index]!;
      const swapped = value.slice(0, index) + (c === 'a' ? 'b' : 'a') + value.slice(index + 1);
      expect(parseCredential(swapped)).toBeUndefined();
    }
  });

  it.each([
    ['empty', ''],
    ['too short', 'mgk_abc'],
    ['unknown prefix', `mgz_${'a'.repeat(36)}`],
    ['not base62', `mgk_${'a'.repeat(29)}-${'a'.repeat(6)}`],
    ['uppercase prefix', generateCredential('api_key').toUpperCase()],
    ['trailing space', `${generateCredential('api_key')} `],
    ['newline inside', generateCredential('api_key').replace('_', '_\n')],
    ['sql-ish', "mgk_' OR 1=1 --"],
    ['very long', `mgk_${'a'.repeat(100_000)}`],
    ['unicode lookalike', generateCredential('api_key').replace('m', 'ｍ')],
  ])('refuses %s input before any lookup', (_name, value) => {
    expect(parseCredential(value)).toBeUndefined();
  });

  it('displayPrefix shows the kind and four characters, never the secret part', () => {
    const value = generateCredential('admin_key');
    expect(displayPrefix(value)).toBe(value.slice(0, 8));
    expect(displayPrefix(value).length).toBe(8);
  });

  it('constantTimeEqual compares by value, across lengths', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});
