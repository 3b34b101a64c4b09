import { randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { splitInferencePath } from '../src/dataplane/path.js';
import { requestShapeRefusal } from '../src/dataplane/stages/shape.js';
import { parseAuthorization } from '../src/kernel/authorization-header.js';
import { hashPassword, verifyPassword } from '../src/kernel/password-hash.js';

/** The pure rules behind the hostile data-plane tests, with more variants than the sockets take. */

describe('requestShapeRefusal', () => {
  const cases: [string, string, string[], string | undefined][] = [
    ['GET with a body', 'GET', ['Host', 'a', 'Content-Length', '1'], 'BODY_NOT_ALLOWED'],
    ['HEAD chunked', 'HEAD', ['Host', 'a', 'Transfer-Encoding', 'chunked'], 'BODY_NOT_ALLOWED'],
    ['DELETE, header in capitals', 'DELETE', ['HOST', 'a', 'CONTENT-LENGTH', '10'], 'BODY_NOT_ALLOWED'],
    ['TRACE with a body', 'TRACE', ['Host', 'a', 'content-length', '2'], 'BODY_NOT_ALLOWED'],
    ['OPTIONS with a body', 'OPTIONS', ['Host', 'a', 'Content-Length', '7'], 'BODY_NOT_ALLOWED'],
    ['GET with Content-Length 0', 'GET', ['Host', 'a', 'Content-Length', '0'], undefined],
    ['GET with Content-Length 000', 'GET', ['Host', 'a', 'Content-Length', '000'], undefined],
    ['POST with a body', 'POST', ['Host', 'a', 'Content-Length', '5'], undefined],
    ['PUT chunked', 'PUT', ['Host', 'a', 'Transfer-Encoding', 'chunked'], undefined],
    ['PATCH with a body', 'PATCH', ['Host', 'a', 'Content-Length', '5'], undefined],
    ['two Host', 'GET', ['Host', 'a', 'host', 'a'], 'HEADER_DUPLICATED'],
    ['two Host on POST', 'POST', ['Host', 'a', 'Content-Length', '1', 'HoSt', 'b'], 'HEADER_DUPLICATED'],
    ['two Content-Length', 'POST', ['Host', 'a', 'Content-Length', '1', 'Content-Length', '1'], 'HEADER_DUPLICATED'],
    [
      'two Transfer-Encoding',
      'POST',
      ['Transfer-Encoding', 'gzip', 'transfer-encoding', 'chunked'],
      'HEADER_DUPLICATED',
    ],
    ['no Host (HTTP/1.0)', 'GET', [], undefined],
    ['look-alike names are other headers', 'GET', ['Hosts', 'a', 'X-Host', 'b', 'Host', 'c'], undefined],
    [
      'two X-Forwarded-For are a list, not a refusal',
      'GET',
      ['X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2'],
      undefined,
    ],
  ];
  for (const [name, method, raw, code] of cases) {
    it(`${name} → ${code ?? 'accepted'}`, () => {
      expect(requestShapeRefusal(method, raw)?.code).toBe(code);
    });
  }
});

describe('path filter: NFKC look-alikes', () => {
  const enc = (s: string) => encodeURIComponent(s);
  const refused = [
    '\uFF0E\uFF0E',
    '\uFF0E',
    '\u2024',
    '\u2024\u2024',
    '\u2025',
    '\uFE52\uFE52',
    '.\uFF0E',
    '\uFF0E.',
    '\u2025;x',
    'a\uFF0Fb',
    'a\uFF3Cb',
    'a\uFE68b',
    '\u2100',
    '\u2101',
    '\uFF05\uFF12\uFF45\uFF05\uFF12\uFF45',
    '\uFF05\uFF12\uFF46',
  ];
  for (const segment of refused) {
    it(`refuses ${JSON.stringify(segment)} percent-encoded, lowercase and double-encoded`, () => {
      const once = enc(segment);
      expect(splitInferencePath(`/demo/${once}/x`)).toEqual({ ok: false, code: 'PATH_INVALID' });
      expect(splitInferencePath(`/demo/${once.toLowerCase()}/x`)).toEqual({ ok: false, code: 'PATH_INVALID' });
      expect(splitInferencePath(`/demo/${once.replaceAll('%', '%25')}/x`)).toEqual({ ok: false, code: 'PATH_INVALID' });
    });
  }

  const allowed = [
    'caf\u00E9',
    '\u2026',
    'a\u2215b',
    '\uFF41\uFF42',
    'v1\uFF0Ejson',
    '\u00BD',
    '\u4E2D\u6587',
    '\u2488',
  ];
  for (const segment of allowed) {
    it(`keeps ${JSON.stringify(segment)}, forwarded as sent`, () => {
      expect(splitInferencePath(`/demo/${enc(segment)}`)).toEqual({
        ok: true,
        deployment: 'demo',
        rest: `/${enc(segment)}`,
      });
    });
  }
});

describe('Basic passwords: exact bytes', () => {
  it('the current hash tells a password from the same password with trailing NULs', async () => {
    const stored = await hashPassword('pw');
    expect(stored.startsWith('scrypt-sha256$')).toBe(true);
    expect(await verifyPassword('pw', stored)).toBe(true);
    for (const variant of ['pw\u0000', 'pw\u0000\u0000', 'pw\u0000\u0000\u0000\u0000']) {
      expect(await verifyPassword(variant, stored)).toBe(false);
    }
    const withNul = await hashPassword('pw\u0000');
    expect(await verifyPassword('pw\u0000', withNul)).toBe(true);
    expect(await verifyPassword('pw', withNul)).toBe(false);
  });

  it('a legacy scrypt$ hash still verifies, but never for a password ending in NUL', async () => {
    // What hashPassword wrote before: scrypt over the raw password (which zero-pads like HMAC).
    const salt = randomBytes(16);
    const hash = scryptSync('pw', salt, 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    const legacy = ['scrypt', 16384, 8, 1, salt.toString('base64url'), hash.toString('base64url')].join('$');
    expect(await verifyPassword('pw', legacy)).toBe(true);
    expect(await verifyPassword('pw\u0000', legacy)).toBe(false);
    expect(await verifyPassword('px', legacy)).toBe(false);
  });

  it('Basic credentials must be valid UTF-8; NULs and a BOM are kept as sent', () => {
    const b64 = (bytes: number[]) => `Basic ${Buffer.from(bytes).toString('base64')}`;
    const user = [...Buffer.from('u:')];
    expect(parseAuthorization(b64([...user, 0x70, 0xff]))).toMatchObject({ denied: 'malformed' });
    expect(parseAuthorization(b64([...user, 0xc0, 0xae]))).toMatchObject({ denied: 'malformed' });
    expect(parseAuthorization(b64([...user, 0x70, 0x00]))).toEqual({
      scheme: 'basic',
      username: 'u',
      password: 'p\u0000',
    });
    expect(parseAuthorization(b64([0xef, 0xbb, 0xbf, ...user, 0x70]))).toEqual({
      scheme: 'basic',
      username: '\uFEFFu',
      password: 'p',
    });
  });
});
