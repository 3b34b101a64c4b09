import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientErrorCode, overflowingField } from '../src/http/client-error.js';
import { rawRequest } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';

/** node's parser error for a head over `maxHeaderSize`, stopped at `at` in `chunk`. */
const overflow = (chunk: string, at = chunk.length) =>
  Object.assign(new Error('Header overflow'), {
    code: 'HPE_HEADER_OVERFLOW',
    rawPacket: Buffer.from(chunk, 'latin1'),
    bytesParsed: at,
  });

describe('which header overflowed the head', () => {
  const big = 'a'.repeat(20_000);
  it.each([
    ['a huge token', `GET /a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${big}`, undefined, 'authorization'],
    ['any casing', `GET /a HTTP/1.1\r\nauthORIZATION: Basic ${big}`, undefined, 'authorization'],
    [
      'a huge cookie after a small token',
      `GET / HTTP/1.1\r\nAuthorization: Bearer x\r\nCookie: ${big}`,
      undefined,
      'cookie',
    ],
    [
      'stopped inside the cookie, a token after it',
      `GET / HTTP/1.1\r\nCookie: ${big}\r\nAuthorization: Bearer x\r\n\r\n`,
      18 + 8 + 10_000,
      'cookie',
    ],
    ['a chunk that starts inside a value', big, undefined, undefined],
    ['a huge request line', `GET /${big}`, undefined, undefined],
    ['no colon in reach', `GET / HTTP/1.1\r\n${big}`, undefined, undefined],
    ['a name that is not a token', 'GET / HTTP/1.1\r\nAuth orization: x', undefined, undefined],
  ])('%s', (_name, chunk, at, field) => {
    expect(overflowingField(Buffer.from(chunk, 'latin1'), at ?? chunk.length)).toBe(field);
  });
});

describe('the registry code for a request node’s parser refused', () => {
  it('a credential that overflows the head is a bad credential (401), anything else 431', () => {
    expect(clientErrorCode(overflow(`GET / HTTP/1.1\r\nAuthorization: Bearer ${'a'.repeat(20_000)}`))).toBe(
      'CREDENTIAL_TOO_LARGE',
    );
    expect(clientErrorCode(overflow(`GET / HTTP/1.1\r\nCookie: ${'a'.repeat(20_000)}`))).toBe('HEADERS_TOO_LARGE');
    // The head came in small pieces: the last one does not show the field, so no claim is made.
    expect(clientErrorCode(overflow('a'.repeat(1000)))).toBe('HEADERS_TOO_LARGE');
    expect(clientErrorCode({ ...overflow('x'), rawPacket: undefined })).toBe('HEADERS_TOO_LARGE');
  });

  it('timeouts, bad framing and oversized chunk extensions keep their own codes', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(clientErrorCode(err('ERR_HTTP_REQUEST_TIMEOUT'))).toBe('REQUEST_TIMEOUT');
    expect(clientErrorCode(err('HPE_INVALID_METHOD'))).toBe('BAD_REQUEST');
    expect(clientErrorCode(err('HPE_CHUNK_EXTENSIONS_OVERFLOW'))).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('requests node’s parser refuses, end to end', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('get the registry envelope with a request id on every listener, not a bare status line', async () => {
    for (const base of [t.node.urls.inference, t.node.urls.management, t.node.urls.metrics]) {
      const res = await rawRequest(base, 'GET /x HTTP/1.1', ['Bad Header: x']);
      expect(res.status, base).toBe(400);
      const body = JSON.parse(res.body) as { error: { code: string; request_id: string } };
      expect(body.error.code).toBe('BAD_REQUEST');
      expect(body.error.request_id).toBe(res.headers['x-request-id']);
    }
  });
});
