import { describe, expect, it } from 'vitest';
import { parseAuthorization } from '../../src/kernel/authorization-header.js';
import { bearerChallenge, denialCode } from '../../src/kernel/denial.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('Authorization header parsing', () => {
  it.each([
    ['Bearer abc.DEF-123_~+/=', { scheme: 'bearer', token: 'abc.DEF-123_~+/=' }],
    ['bearer lower', { scheme: 'bearer', token: 'lower' }],
    ['BEARER upper', { scheme: 'bearer', token: 'upper' }],
    ['Bearer   spaced', { scheme: 'bearer', token: 'spaced' }],
    [`Basic ${b64('modelgate:pa:ss')}`, { scheme: 'basic', username: 'modelgate', password: 'pa:ss' }],
    [`Basic ${b64('user:')}`, { scheme: 'basic', username: 'user', password: '' }],
    [`Basic ${b64('ünïcode:pässwörd')}`, { scheme: 'basic', username: 'ünïcode', password: 'pässwörd' }],
  ])('accepts %j', (header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });

  it.each([
    ['no scheme', 'mgk_abcdef'],
    ['empty', ''],
    ['scheme only', 'Bearer'],
    ['scheme and space', 'Bearer '],
    ['two tokens', 'Bearer a b'],
    ['comma-joined duplicates', 'Bearer a, Bearer b'],
    ['bad token chars', 'Bearer a"b'],
    ['control char', 'Bearer a\u0000b'],
    ['unknown scheme', 'Digest username="x"'],
    ['basic without colon', `Basic ${b64('nocolon')}`],
    ['basic not base64', 'Basic !!!!'],
    ['basic bad padding', 'Basic abc'],
    ['leading space', ' Bearer x'],
    ['huge', `Bearer ${'a'.repeat(10_000)}`],
  ])('refuses %s as malformed', (_name, header) => {
    expect(parseAuthorization(header)).toMatchObject({ denied: 'malformed' });
  });

  it('maps denials to stable codes and RFC 6750 challenges', () => {
    expect(denialCode('missing')).toBe('CREDENTIAL_MISSING');
    expect(denialCode('expired')).toBe('CREDENTIAL_EXPIRED');
    expect(denialCode('forbidden')).toBe('FORBIDDEN');
    expect(bearerChallenge('modelgate', 'missing')).toBe('Bearer realm="modelgate"');
    expect(bearerChallenge('modelgate', 'unknown')).toBe('Bearer realm="modelgate", error="invalid_token"');
    expect(bearerChallenge('modelgate', 'forbidden')).toBe('Bearer realm="modelgate", error="insufficient_scope"');
    expect(bearerChallenge('modelgate', 'malformed')).toBe('Bearer realm="modelgate", error="invalid_request"');
  });
});
