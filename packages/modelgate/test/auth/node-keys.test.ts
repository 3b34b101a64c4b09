import { describe, expect, it } from 'vitest';
import { generateCredential, parseCredential } from '../../src/kernel/credential.js';
import { NodeKeys } from '../../src/keys/node-keys.js';

/** A clock the test moves by hand. */
function frozenClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('node keys (pure, frozen clock)', () => {
  it('has TorchServe’s three keys with the configured expiry', () => {
    const clock = frozenClock();
    const keys = NodeKeys.generate({ expirationMin: 60, now: clock.now });
    const file = keys.fileContent;
    expect(Object.keys(file)).toEqual(['management', 'inference', 'API']);
    expect(file.management['expiration time']).toBe(new Date(clock.now() + 3600_000).toISOString());
    expect(file.inference['expiration time']).toBe(new Date(clock.now() + 3600_000).toISOString());
    expect(file.API).toEqual({ key: expect.stringMatching(/^mgr_/) });
  });

  it('verifies each key as its own kind', () => {
    const keys = NodeKeys.generate({ expirationMin: 60 });
    const f = keys.fileContent;
    expect(keys.verify(parseCredential(f.management.key)!)).toEqual({ kind: 'management_key', id: 'node:management' });
    expect(keys.verify(parseCredential(f.inference.key)!)).toEqual({ kind: 'inference_key', id: 'node:inference' });
    expect(keys.verify(parseCredential(f.API.key)!)).toEqual({ kind: 'token_api_key', id: 'node:API' });
  });

  it('refuses a well-formed key it did not issue', () => {
    const keys = NodeKeys.generate({ expirationMin: 60 });
    expect(keys.verify(parseCredential(generateCredential('management_key'))!)).toEqual({ denied: 'unknown' });
    expect(keys.verify(parseCredential(generateCredential('api_key'))!)).toEqual({ denied: 'unknown' });
  });

  it('expires management and inference keys at their expiry, never the API key', () => {
    const clock = frozenClock();
    const keys = NodeKeys.generate({ expirationMin: 60, now: clock.now });
    const f = keys.fileContent;
    clock.advance(3600_000 - 1);
    expect(keys.verify(parseCredential(f.management.key)!)).toMatchObject({ kind: 'management_key' });
    clock.advance(1);
    expect(keys.verify(parseCredential(f.management.key)!)).toMatchObject({ denied: 'expired' });
    expect(keys.verify(parseCredential(f.inference.key)!)).toMatchObject({ denied: 'expired' });
    expect(keys.verify(parseCredential(f.API.key)!)).toMatchObject({ kind: 'token_api_key' });
  });

  it('rotation replaces one key, renews its expiry and kills the old key at once', () => {
    const clock = frozenClock();
    const keys = NodeKeys.generate({ expirationMin: 1, now: clock.now });
    const before = keys.fileContent;
    clock.advance(90_000); // both expired
    const rotated = keys.rotate('inference');
    expect(rotated.expiresAt).toBe(new Date(clock.now() + 60_000).toISOString());
    expect(keys.verify(parseCredential(before.inference.key)!)).toEqual({ denied: 'unknown' });
    expect(keys.verify(parseCredential(rotated.key)!)).toMatchObject({ kind: 'inference_key' });
    expect(keys.fileContent.inference).toEqual({ key: rotated.key, 'expiration time': rotated.expiresAt });
    expect(keys.fileContent.management).toEqual(before.management);
  });
});
