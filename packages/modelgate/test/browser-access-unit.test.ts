import { describe, expect, it } from 'vitest';
import { formOrigin, pageError, safeReturnPath, wantsSignInPage } from '../src/dataplane/browser-access.js';
import {
  clearCredentialCookie,
  credentialCookie,
  readCredentialCookie,
  setsGatewayCookie,
  withoutGatewayCookies,
} from '../src/dataplane/browser-cookie.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../src/dataplane/headers.js';
import { PAGE_HEADERS, signInPage } from '../src/dataplane/sign-in-page.js';
import { generateCredential } from '../src/kernel/credential.js';
import type { DeploymentSnapshot } from '../src/kernel/deployment-snapshot.js';

/** The pure decisions of browser access (B7); the end-to-end behaviour is in browser-access.test.ts. */

const PATH = { deployment: 'demo', hostRouted: false };
const HOST = { deployment: 'demo', hostRouted: true };

describe('safeReturnPath: a signed-in browser goes back to the same deployment only', () => {
  it.each([
    ['/demo/', '/demo/'],
    ['/demo', '/demo'],
    ['/demo/ui/index.html?tab=2&next=//evil.example', '/demo/ui/index.html?tab=2&next=//evil.example'],
  ])('keeps %s', (candidate, expected) => {
    expect(safeReturnPath(candidate, PATH)).toBe(expected);
  });

  it.each([
    ['another deployment', '/other/x'],
    ['a deployment whose name starts the same', '/demo2/x'],
    ['a protocol-relative URL', '//evil.example/x'],
    ['an absolute URL', 'https://evil.example/demo/'],
    ['a backslash', '/\\evil.example'],
    ['a backslash inside the path', '/demo/\\\\evil.example'],
    ['a dot segment', '/demo/../other/'],
    ['an encoded dot segment', '/demo/%2e%2e/other/'],
    ['an encoded slash', '/demo/%2F%2Fevil.example'],
    ['a CR LF (header injection)', '/demo/x\r\nSet-Cookie: a=b'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['the gateway route', '/_modelgate/sign-in'],
    ['nothing', ''],
  ])('refuses %s (back to the deployment root)', (_name, candidate) => {
    expect(safeReturnPath(candidate, PATH)).toBe('/demo/');
  });

  it('host routing: any valid path on the host, never the gateway routes or another host', () => {
    expect(safeReturnPath('/ui?x=1', HOST)).toBe('/ui?x=1');
    expect(safeReturnPath('/_modelgate/sign-out', HOST)).toBe('/');
    expect(safeReturnPath('//evil.example/', HOST)).toBe('/');
    expect(safeReturnPath('/a/../b', HOST)).toBe('/');
    expect(safeReturnPath(null, HOST)).toBe('/');
  });
});

describe('formOrigin: only the gateway’s own page may sign a browser in or out', () => {
  const host = 'gw.example:8080';
  it.each([
    [{ origin: 'http://gw.example:8080' }, 'http', 'http'],
    [{ origin: 'HTTP://GW.example:8080' }, 'http', 'http'],
    [{ origin: 'https://gw.example:8080' }, 'http', 'https'],
    [{ origin: 'http://gw.example:8080', 'sec-fetch-site': 'same-origin' }, 'http', 'http'],
    [{ origin: 'https://gw.example:8080' }, 'https', 'https'],
  ] as const)('accepts %o on a %s listener', (headers, proto, expected) => {
    expect(formOrigin({ host, ...headers }, proto)).toBe(expected);
  });

  it.each([
    ['no Origin', {}, 'http'],
    ['Origin null', { origin: 'null' }, 'http'],
    ['another host', { origin: 'http://evil.example:8080' }, 'http'],
    ['another port', { origin: 'http://gw.example:9090' }, 'http'],
    ['a host that only starts the same', { origin: 'http://gw.example:8080.evil.example' }, 'http'],
    ['plain http on a TLS listener', { origin: 'http://gw.example:8080' }, 'https'],
    ['a sibling host (same site)', { origin: 'http://gw.example:8080', 'sec-fetch-site': 'same-site' }, 'http'],
    ['a cross-site fetch', { origin: 'http://gw.example:8080', 'sec-fetch-site': 'cross-site' }, 'http'],
    ['a typed URL', { origin: 'http://gw.example:8080', 'sec-fetch-site': 'none' }, 'http'],
  ] as const)('refuses %s', (_name, headers, proto) => {
    expect(formOrigin({ host, ...headers }, proto)).toBeUndefined();
  });

  it('refuses a request without Host', () => {
    expect(formOrigin({ origin: 'http://gw.example' }, 'http')).toBeUndefined();
  });
});

describe('the credential cookie', () => {
  const key = generateCredential('api_key');

  it('is HttpOnly, SameSite=Strict, scoped to the deployment, Secure only over TLS, never persistent', () => {
    expect(credentialCookie(key, { path: '/demo', secure: false })).toBe(
      `modelgate_token=${key}; Path=/demo; HttpOnly; SameSite=Strict`,
    );
    expect(credentialCookie(key, { path: '/', secure: true })).toBe(
      `modelgate_token=${key}; Path=/; HttpOnly; SameSite=Strict; Secure`,
    );
    expect(clearCredentialCookie({ path: '/demo', secure: false })).toBe(
      'modelgate_token=; Max-Age=0; Path=/demo; HttpOnly; SameSite=Strict',
    );
  });

  it('is read from among other cookies; empty, twice or not a token are told apart', () => {
    expect(readCredentialCookie(undefined)).toBeUndefined();
    expect(readCredentialCookie('theme=dark')).toBeUndefined();
    expect(readCredentialCookie(`theme=dark; modelgate_token=${key}; lang=en`)).toBe(key);
    expect(readCredentialCookie('modelgate_token=')).toBeUndefined();
    expect(readCredentialCookie('xmodelgate_token=abc')).toBeUndefined();
    expect(readCredentialCookie(`modelgate_token=${key}; modelgate_token=${key}`)).toMatchObject({
      denied: 'ambiguous',
    });
    expect(readCredentialCookie('modelgate_token="a b"')).toMatchObject({ denied: 'malformed' });
    expect(readCredentialCookie(`modelgate_token=${'a'.repeat(9000)}`)).toMatchObject({ denied: 'malformed' });
  });

  it('is removed from what the upstream receives, with the console session; other cookies stay in order', () => {
    expect(withoutGatewayCookies(`a=1; modelgate_token=${key}; b=2`)).toBe('a=1; b=2');
    expect(withoutGatewayCookies(`modelgate_session=x; modelgate_token=${key}`)).toBeUndefined();
    expect(withoutGatewayCookies(['a=1', `modelgate_token=${key}`])).toBe('a=1');
    expect(withoutGatewayCookies('modelgate_theme=dark')).toBe('modelgate_theme=dark');
    const headers = upstreamRequestHeaders(
      { cookie: `a=1; modelgate_token=${key}`, authorization: `Bearer ${key}` },
      {
        clientIp: '127.0.0.1',
        proto: 'http',
        host: 'gw',
        deployment: 'demo',
        requestId: 'r',
        forwardCredential: false,
        upstreamHost: 'up',
      },
    );
    expect(headers.cookie).toBe('a=1');
    expect(JSON.stringify(headers)).not.toContain(key);
  });

  it('a cookie-borne token is forwarded as Authorization only when the deployment forwards credentials', () => {
    const ctx = {
      clientIp: '127.0.0.1',
      proto: 'http' as const,
      host: 'gw',
      deployment: 'demo',
      requestId: 'r',
      upstreamHost: 'up',
      cookieToken: key,
    };
    const cookie = { cookie: `modelgate_token=${key}` };
    expect(upstreamRequestHeaders(cookie, { ...ctx, forwardCredential: true }).authorization).toBe(`Bearer ${key}`);
    expect(upstreamRequestHeaders(cookie, { ...ctx, forwardCredential: false }).authorization).toBeUndefined();
  });

  it('an upstream cannot set it (nor the console session), also as a nameless cookie; its other cookies pass', () => {
    expect(setsGatewayCookie('modelgate_token=mgk_x; Path=/other')).toBe(true);
    expect(setsGatewayCookie(' modelgate_session=x')).toBe(true);
    expect(setsGatewayCookie('=modelgate_token=mgk_x; Path=/')).toBe(true);
    expect(setsGatewayCookie('theme=modelgate_token')).toBe(false);
    expect(setsGatewayCookie('session=abc; Path=/')).toBe(false);
    const out = downstreamResponseHeaders({
      'set-cookie': ['session=abc; Path=/', 'modelgate_token=mgk_x; Path=/other', 'MODELGATE_TOKEN=x'],
    });
    expect(out['set-cookie']).toEqual(['session=abc; Path=/', 'MODELGATE_TOKEN=x']);
  });
});

describe('the sign-in page', () => {
  const snapshot = { basic: null } as unknown as DeploymentSnapshot;
  const basic = { basic: { username: 'modelgate', password_hash: 'x' } } as unknown as DeploymentSnapshot;

  it('is for page loads of deployments without Basic', () => {
    expect(wantsSignInPage('GET', 'text/html,application/xhtml+xml,*/*;q=0.8', snapshot)).toBe(true);
    expect(wantsSignInPage('HEAD', 'TEXT/HTML', snapshot)).toBe(true);
    expect(wantsSignInPage('GET', '*/*', snapshot)).toBe(false);
    expect(wantsSignInPage('GET', undefined, snapshot)).toBe(false);
    expect(wantsSignInPage('POST', 'text/html', snapshot)).toBe(false);
    expect(wantsSignInPage('GET', 'text/html', basic)).toBe(false);
  });

  it('escapes what it shows, has no script and allows none', () => {
    const html = signInPage({
      deployment: 'demo',
      returnTo: '/demo/x?a="><script>alert(1)</script>',
      hostRouted: false,
      error: '<img src=x onerror=alert(1)>',
    });
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).toContain('value="/demo/x?a=&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"');
    const csp = PAGE_HEADERS['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
  });

  it('explains a refusal without the token; no error for a first visit', () => {
    expect(pageError({ code: 'CREDENTIAL_MISSING' }, false)).toBeUndefined();
    expect(pageError({ code: 'CREDENTIAL_REVOKED' }, true)).toContain('saved token');
    expect(pageError({ code: 'FORBIDDEN' }, false)).toBe(
      'That token is valid but does not open this deployment (FORBIDDEN).',
    );
    expect(pageError({ code: 'FORBIDDEN', message: 'This API token has no Protected Endpoint access' }, false)).toBe(
      'That token is valid but does not open this deployment: This API token has no Protected Endpoint access (FORBIDDEN).',
    );
    expect(pageError({ code: 'THROTTLED', headers: { 'retry-after': '42' } }, false)).toContain('in 42 seconds');
  });
});
