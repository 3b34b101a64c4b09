import { describe, expect, it } from 'vitest';
import {
  hostDeployment,
  isDeploymentName,
  MAX_PATH_LENGTH,
  splitHostRoutedPath,
  splitInferencePath,
} from '../src/dataplane/path.js';

const long = (n: number) => `/a/${'x'.repeat(n - 3)}`;

const accepted: ReadonlyArray<[url: string, deployment: string, rest: string]> = [
  ['/a/x', 'a', '/x'],
  ['/a', 'a', '/'],
  ['/a/', 'a', '/'],
  ['/a?x=1', 'a', '/?x=1'],
  ['/demo/v1/chat/completions', 'demo', '/v1/chat/completions'],
  ['/demo/predictions/sentiment/1.0', 'demo', '/predictions/sentiment/1.0'],
  ['/a/x/', 'a', '/x/'],
  ['/a-1/x', 'a-1', '/x'],
  ['/0/x', '0', '/x'],
  [`/${'a'.repeat(63)}/x`, 'a'.repeat(63), '/x'],
  // Raw, not decoded: the upstream receives exactly these bytes.
  ['/a/x%20y', 'a', '/x%20y'],
  ['/a/caf%C3%A9', 'a', '/caf%C3%A9'],
  ['/a/100%25', 'a', '/100%25'],
  ['/a/%3F', 'a', '/%3F'],
  ['/a/...', 'a', '/...'],
  ['/a/.well-known/x', 'a', '/.well-known/x'],
  ['/a/x.json', 'a', '/x.json'],
  ['/a/..x', 'a', '/..x'],
  ["/a/x;v=1/y:z@w!$&'()*+,=~", 'a', "/x;v=1/y:z@w!$&'()*+,=~"],
  // The query is opaque to routing: passed on verbatim, even with dots or encoded slashes.
  ['/a/x?p=../../b', 'a', '/x?p=../../b'],
  ['/a/x?p=%2e%2e%2fb&q=%2F', 'a', '/x?p=%2e%2e%2fb&q=%2F'],
  ['/a/x?p=a\\b', 'a', '/x?p=a\\b'],
  ['/a/x?%zz', 'a', '/x?%zz'],
  ['/a/x??', 'a', '/x??'],
  ['/a/x?', 'a', '/x?'],
  [long(MAX_PATH_LENGTH), 'a', long(MAX_PATH_LENGTH).slice(2)],
];

const refused: ReadonlyArray<[url: string, code: 'PATH_INVALID' | 'DEPLOYMENT_NOT_FOUND', why: string]> = [
  // dot segments, raw and encoded in any case and mix
  ['/a/../b', 'PATH_INVALID', 'dot-dot'],
  ['/a/..', 'PATH_INVALID', 'trailing dot-dot'],
  ['/a/../b/x', 'PATH_INVALID', 'dot-dot to another deployment'],
  ['/a/./x', 'PATH_INVALID', 'dot'],
  ['/a/.', 'PATH_INVALID', 'trailing dot'],
  ['/../b', 'PATH_INVALID', 'leading dot-dot'],
  ['/./a/x', 'PATH_INVALID', 'leading dot'],
  ['/a/%2e%2e/b', 'PATH_INVALID', 'encoded dot-dot'],
  ['/a/%2E%2E/b', 'PATH_INVALID', 'encoded dot-dot upper'],
  ['/a/%2E%2e/b', 'PATH_INVALID', 'encoded dot-dot mixed case'],
  ['/a/.%2e/b', 'PATH_INVALID', 'half-encoded dot-dot'],
  ['/a/%2e./b', 'PATH_INVALID', 'half-encoded dot-dot'],
  ['/a/%2E/x', 'PATH_INVALID', 'encoded dot'],
  ['/a/%2e', 'PATH_INVALID', 'trailing encoded dot'],
  ['/a/%252e%252e/b', 'PATH_INVALID', 'double-encoded dot-dot'],
  ['/a/%25252e%25252e/b', 'PATH_INVALID', 'triple-encoded dot-dot'],
  ['/a/..;/b', 'PATH_INVALID', 'servlet path parameter dot-dot'],
  ['/a/..;jsessionid=1/b', 'PATH_INVALID', 'servlet path parameter dot-dot'],
  ['/a/.%2e%3b/b', 'PATH_INVALID', 'encoded servlet dot-dot'],
  ['/a/%c0%ae%c0%ae/b', 'PATH_INVALID', 'overlong UTF-8 dots'],
  ['/a/%C0%AF', 'PATH_INVALID', 'overlong UTF-8 slash'],
  // encoded separators anywhere
  ['/a%2F..%2Fb', 'PATH_INVALID', 'encoded slash in the name'],
  ['/a/x%2fy', 'PATH_INVALID', 'encoded slash'],
  ['/a/x%2Fy', 'PATH_INVALID', 'encoded slash upper'],
  ['/a/x%5cy', 'PATH_INVALID', 'encoded backslash'],
  ['/a/x%5C..%5Cb', 'PATH_INVALID', 'encoded backslash dot-dot'],
  ['/a/x%252fy', 'PATH_INVALID', 'double-encoded slash'],
  ['/a\\..\\b', 'PATH_INVALID', 'raw backslash'],
  ['/a/x\\y', 'PATH_INVALID', 'raw backslash'],
  // empty segments
  ['//b', 'PATH_INVALID', 'empty first segment'],
  ['//b/x', 'PATH_INVALID', 'empty first segment'],
  ['/a//x', 'PATH_INVALID', 'double slash'],
  ['/a/x//', 'PATH_INVALID', 'double trailing slash'],
  ['/a//', 'PATH_INVALID', 'double slash at the end'],
  // control characters and malformed encoding
  ['/a/%00', 'PATH_INVALID', 'encoded NUL'],
  ['/a/x%00.json', 'PATH_INVALID', 'encoded NUL mid-segment'],
  ['/a/x\u0000', 'PATH_INVALID', 'raw NUL'],
  ['/a/x\ty', 'PATH_INVALID', 'raw tab'],
  ['/a/x y', 'PATH_INVALID', 'raw space'],
  ['/a/x\r\nX-Injected: 1', 'PATH_INVALID', 'CRLF'],
  ['/a/%0d%0a', 'PATH_INVALID', 'encoded CRLF'],
  ['/a/%7f', 'PATH_INVALID', 'encoded DEL'],
  ['/a/%c2%85', 'PATH_INVALID', 'C1 control (NEL)'],
  ['/a/%2500', 'PATH_INVALID', 'double-encoded NUL'],
  ['/a/%zz', 'PATH_INVALID', 'invalid percent-encoding'],
  ['/a/%', 'PATH_INVALID', 'lone percent'],
  ['/a/%2', 'PATH_INVALID', 'truncated percent'],
  ['/a/%ff', 'PATH_INVALID', 'not UTF-8'],
  ['/a/caf\u00e9', 'PATH_INVALID', 'raw non-ASCII'],
  // fragments are never part of a request target
  ['/a/x#frag', 'PATH_INVALID', 'fragment in the path'],
  ['/a/x?q=1#frag', 'PATH_INVALID', 'fragment after the query'],
  ['/a/x?q=1 2', 'PATH_INVALID', 'space in the query'],
  ['/a/x?q=\u0000', 'PATH_INVALID', 'NUL in the query'],
  ['/a/x?q=\u00e9', 'PATH_INVALID', 'non-ASCII in the query'],
  // not origin-form
  ['http://x/a/b', 'PATH_INVALID', 'absolute-form'],
  ['HTTP://x/a/b', 'PATH_INVALID', 'absolute-form upper'],
  ['*', 'PATH_INVALID', 'asterisk-form'],
  ['x:443', 'PATH_INVALID', 'authority-form'],
  ['', 'PATH_INVALID', 'empty'],
  ['a/x', 'PATH_INVALID', 'relative'],
  // over-long
  [long(MAX_PATH_LENGTH + 1), 'PATH_INVALID', 'over 8 KiB'],
  [`/a/${'x/'.repeat(100_000)}`, 'PATH_INVALID', 'huge'],
  // names: exact and case-sensitive, never decoded or folded
  ['/A', 'DEPLOYMENT_NOT_FOUND', 'upper case'],
  ['/A/x', 'DEPLOYMENT_NOT_FOUND', 'upper case'],
  ['/Demo/x', 'DEPLOYMENT_NOT_FOUND', 'mixed case'],
  ['/%61/x', 'DEPLOYMENT_NOT_FOUND', 'encoded name'],
  ['/a%41/x', 'DEPLOYMENT_NOT_FOUND', 'partly encoded name'],
  ['/a%2d/x', 'DEPLOYMENT_NOT_FOUND', 'encoded dash'],
  ['/', 'DEPLOYMENT_NOT_FOUND', 'root'],
  ['/?x=1', 'DEPLOYMENT_NOT_FOUND', 'root with query'],
  ['/_health/live', 'DEPLOYMENT_NOT_FOUND', 'reserved underscore'],
  ['/.well-known/jwks.json', 'DEPLOYMENT_NOT_FOUND', 'reserved dot'],
  ['/-a/x', 'DEPLOYMENT_NOT_FOUND', 'leading dash'],
  ['/a_b/x', 'DEPLOYMENT_NOT_FOUND', 'underscore'],
  ['/a.b/x', 'DEPLOYMENT_NOT_FOUND', 'dot in name'],
  ['/a;x/y', 'DEPLOYMENT_NOT_FOUND', 'path parameter on the name'],
  [`/${'a'.repeat(64)}/x`, 'DEPLOYMENT_NOT_FOUND', 'name too long'],
];

describe('splitInferencePath', () => {
  it.each(accepted)('accepts %j', (url, deployment, rest) => {
    expect(splitInferencePath(url)).toEqual({ ok: true, deployment, rest });
  });

  it.each(refused)('refuses %j with %s (%s)', (url, code) => {
    expect(splitInferencePath(url)).toEqual({ ok: false, code });
  });

  it('never yields a deployment other than the literal first segment', () => {
    for (const [url] of refused) {
      const r = splitInferencePath(url);
      expect(r.ok).toBe(false);
    }
    for (const [url, deployment] of accepted) {
      const r = splitInferencePath(url);
      expect(r.ok && url.startsWith(`/${deployment}`)).toBe(true);
    }
  });
});

describe('splitHostRoutedPath', () => {
  it.each([
    ['/', '/'],
    ['/v1/models?x=1', '/v1/models?x=1'],
    ['/x/', '/x/'],
    ['/A/B', '/A/B'],
    ['/_health/live', '/_health/live'],
    ['/x?p=../y', '/x?p=../y'],
  ])('accepts %j', (url, rest) => {
    expect(splitHostRoutedPath(url)).toEqual({ ok: true, rest });
  });

  it.each(refused.filter(([, code]) => code === 'PATH_INVALID').map(([url]) => url))('refuses %j', (url) => {
    expect(splitHostRoutedPath(url)).toEqual({ ok: false, code: 'PATH_INVALID' });
  });

  it.each(['//', '//x', '/x//y', '/..', '/%2e'])('refuses %j', (url) => {
    expect(splitHostRoutedPath(url)).toEqual({ ok: false, code: 'PATH_INVALID' });
  });
});

describe('hostDeployment', () => {
  const base = 'models.example.com';
  it.each<[string | undefined, string, string | undefined]>([
    ['demo.models.example.com', base, 'demo'],
    ['demo.models.example.com:8080', base, 'demo'],
    ['Demo.Models.Example.COM', base, 'demo'],
    ['demo.models.example.com.', base, 'demo'],
    ['demo.models.example.com.:443', base, 'demo'],
    ['demo.models.example.com', '.Models.Example.com.', 'demo'],
    ['a-1.models.example.com', base, 'a-1'],
    ['models.example.com', base, undefined],
    ['.models.example.com', base, undefined],
    ['a.b.models.example.com', base, undefined],
    ['demo.models.example.com.evil.net', base, undefined],
    ['demomodels.example.com', base, undefined],
    ['demo.other.example.com', base, undefined],
    ['_health.models.example.com', base, undefined],
    ['-a.models.example.com', base, undefined],
    ['a_b.models.example.com', base, undefined],
    [`${'a'.repeat(64)}.models.example.com`, base, undefined],
    ['demo.models.example.com:80x', base, undefined],
    ['demo.models.example.com:', base, undefined],
    ['demo.models.example.com:1:2', base, undefined],
    ['[::1]:8080', base, undefined],
    ['demo%2emodels.example.com', base, undefined],
    ['', base, undefined],
    [undefined, base, undefined],
    ['demo.models.example.com', '', undefined],
  ])('%j under %j → %j', (host, baseDomain, expected) => {
    expect(hostDeployment(host, baseDomain)).toBe(expected);
  });
});

describe('isDeploymentName', () => {
  it.each([
    ['a', true],
    ['a-b-1', true],
    ['1', true],
    ['A', false],
    ['_a', false],
    ['.a', false],
    ['-a', false],
    ['', false],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['a\n', false],
  ])('%j → %s', (name, expected) => {
    expect(isDeploymentName(name)).toBe(expected);
  });
});
