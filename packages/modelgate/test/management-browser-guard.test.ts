import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuthority } from '../src/config/host-list.js';
import { resolveConfig } from '../src/config/resolve.js';
import { type GuardedRequest, guardDecision } from '../src/controlplane/api/origin-guard.js';
import { call, rawRequest } from './helpers/http.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd } from './helpers/node-process.js';

/** The one upstream every deployment here names; nothing is ever proxied. */
const UPSTREAM = 'http://127.0.0.1:9/';

async function upstreamOf(t: TestNode, name: string): Promise<string | undefined> {
  const row = await t.node.store.db
    .selectFrom('deployments')
    .select('upstream_url')
    .where('name', '=', name)
    .executeTakeFirst();
  return row?.upstream_url;
}

async function deploymentNames(t: TestNode): Promise<string[]> {
  const rows = await t.node.store.db.selectFrom('deployments').select('name').orderBy('name').execute();
  return rows.map((r) => r.name);
}

function portOf(t: TestNode): number {
  return Number(new URL(t.node.urls.management).port);
}

describe('token authorization disabled: another site cannot drive the management API', () => {
  let t: TestNode;
  let own: string;

  beforeAll(async () => {
    t = await startTestNode({ disable_token_authorization: true });
    own = t.node.urls.management;
    const made = await call(`${own}/api/v1/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'target', upstream: UPSTREAM, access: 'public' }),
    });
    expect(made.status).toBe(201);
  });
  afterAll(() => t?.close());

  /** Unsafe requests a web page can make: form posts, fetch with no-cors bodies, and API-shaped ones. */
  function attacks(): { method: string; path: string; type: string; body: string }[] {
    return [
      {
        method: 'POST',
        path: '/api/v1/deployments',
        type: 'text/plain',
        body: '{"name":"planted","upstream":"http://evil.example/"}',
      },
      {
        method: 'POST',
        path: '/api/v1/deployments',
        type: 'application/json',
        body: '{"name":"planted","upstream":"http://evil.example/"}',
      },
      {
        method: 'PATCH',
        path: '/api/v1/deployments/target',
        type: 'application/json',
        body: '{"upstream":"http://evil.example/"}',
      },
      {
        method: 'PATCH',
        path: '/api/v1/deployments/target',
        type: 'text/plain',
        body: '{"upstream":"http://evil.example/"}',
      },
      {
        method: 'POST',
        path: '/api/v1/deployments/target/redeploy',
        type: 'application/x-www-form-urlencoded',
        body: 'a=b',
      },
      { method: 'DELETE', path: '/api/v1/deployments/target', type: 'text/plain', body: '' },
      { method: 'PUT', path: '/api/v1/secrets/target', type: 'application/json', body: '{"value":"owned"}' },
      { method: 'POST', path: '/api/v1/secrets', type: 'application/json', body: '{"name":"planted","value":"x"}' },
    ];
  }

  it('a foreign Origin on any unsafe method: 403 CROSS_ORIGIN_REFUSED, nothing changed in the store', async () => {
    const port = portOf(t);
    const foreign = [
      'http://evil.example',
      'https://evil.example',
      'null',
      `http://127.0.0.1:${port + 1}`,
      `http://localhost:${port}.evil.example`,
      `http://evil.example:${port}`,
      `https://127.0.0.1:${port}`,
      `http://127.0.0.1:${port}@evil.example`,
      `http://127.0.0.1:${port}/`,
      'http://evil.example, http://127.0.0.1',
      '',
    ];
    for (const origin of foreign) {
      for (const a of attacks()) {
        const res = await call(`${own}${a.path}`, {
          method: a.method,
          headers: { origin, 'content-type': a.type },
          body: a.body,
        });
        expect({ origin, ...a, status: res.status }).toEqual({ origin, ...a, status: 403 });
        expect(res.json.error.code).toBe('CROSS_ORIGIN_REFUSED');
      }
    }
    expect(await deploymentNames(t)).toEqual(['target']);
    expect(await upstreamOf(t, 'target')).toBe(UPSTREAM);
    const secrets = await t.node.store.db.selectFrom('secrets').select('name').execute();
    expect(secrets).toEqual([]);
  });

  it('Sec-Fetch-Site: cross-site is refused even without an Origin (or with our own)', async () => {
    for (const origin of [undefined, own]) {
      const res = await call(`${own}/api/v1/deployments/target`, {
        method: 'PATCH',
        headers: {
          'sec-fetch-site': 'cross-site',
          'content-type': 'application/json',
          ...(origin ? { origin } : {}),
        },
        body: '{"upstream":"http://evil.example/"}',
      });
      expect(res.status).toBe(403);
      expect(res.json.error.code).toBe('CROSS_ORIGIN_REFUSED');
    }
    expect(await upstreamOf(t, 'target')).toBe(UPSTREAM);
  });

  it('no Origin (the CLI, curl), or the listener’s own Origin under any loopback name: allowed', async () => {
    const port = portOf(t);
    const allowed: Record<string, string>[] = [
      {},
      { origin: `http://127.0.0.1:${port}` },
      { origin: `http://localhost:${port}` },
      { origin: `http://LOCALHOST:${port}`, 'sec-fetch-site': 'same-origin' },
      { origin: `http://[::1]:${port}`, 'sec-fetch-site': 'same-site' },
    ];
    for (const [i, headers] of allowed.entries()) {
      const upstream = `http://127.0.0.1:${9100 + i}/`;
      const res = await call(`${own}/api/v1/deployments/target`, {
        method: 'PATCH',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ upstream }),
      });
      expect(res.status, JSON.stringify(headers)).toBe(200);
      expect(await upstreamOf(t, 'target')).toBe(upstream);
    }
  });

  it('the CLI keeps working, by 127.0.0.1 or localhost', async () => {
    const port = portOf(t);
    for (const [i, endpoint] of [own, `http://localhost:${port}`].entries()) {
      const made = await runCliToEnd([
        'deploy',
        `cli-made-${i}`,
        '--upstream',
        UPSTREAM,
        '--access',
        'public',
        '--endpoint',
        endpoint,
        '--api-token',
        'unused-while-auth-is-off',
      ]);
      expect(made.code, made.all).toBe(0);
    }
    expect(await deploymentNames(t)).toEqual(['cli-made-0', 'cli-made-1', 'target']);
    for (const name of ['cli-made-0', 'cli-made-1']) {
      expect((await call(`${own}/api/v1/deployments/${name}`, { method: 'DELETE' })).status).toBe(204);
    }
  });

  it('reads are not blocked by a foreign Origin, and no CORS header lets the page read them', async () => {
    const res = await call(`${own}/api/v1/deployments`, { headers: { origin: 'http://evil.example' } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('a Host that does not name the listener (DNS rebinding): 421 HOST_NOT_ALLOWED on every route', async () => {
    const port = portOf(t);
    const hosts = [
      'evil.example',
      `evil.example:${port}`,
      `127.0.0.1.evil.example:${port}`,
      `localhost.evil.example:${port}`,
      `localhost:${port + 1}`,
      `127.0.0.1:${port + 1}`,
      'localhost',
      '127.0.0.1',
      `[::1]:${port + 1}`,
      `127.0.0.2:${port}`,
      `localhost:${port}@evil.example`,
      `[::ffff:127.0.0.1]:${port + 1}`,
      'xn--80ak6aa92e.com',
    ];
    const routes = [
      { method: 'GET', path: '/_health/live' },
      { method: 'GET', path: '/api/v1/openapi.json' },
      { method: 'GET', path: '/api/v1/deployments' },
      { method: 'GET', path: '/no/such/route' },
      { method: 'DELETE', path: '/api/v1/deployments/target' },
    ];
    for (const host of hosts) {
      for (const r of routes) {
        const res = await call(`${own}${r.path}`, { method: r.method, headers: { host } });
        expect({ host, ...r, status: res.status }).toEqual({ host, ...r, status: 421 });
        expect(res.json.error.code).toBe('HOST_NOT_ALLOWED');
      }
    }
    expect(await deploymentNames(t)).toEqual(['target']);
  });

  it('no Host at all (HTTP/1.0) is refused too; a malformed one is never a 500', async () => {
    const port = portOf(t);
    expect((await rawRequest(own, 'GET /api/v1/deployments HTTP/1.0', [], false)).status).toBe(421);
    expect((await rawRequest(own, 'DELETE /api/v1/deployments/target HTTP/1.0', [], false)).status).toBe(421);
    // Absolute-form target: its authority is what the client asked for, whatever Host says.
    const absolute = await rawRequest(own, 'DELETE http://evil.example/api/v1/deployments/target HTTP/1.1', []);
    expect(absolute.status).toBe(421);
    for (const host of ['', ' ', `localhost:${port}:1`, 'localhost:99999', '[::1', 'a b', `localhost:${port}/x`]) {
      const res = await rawRequest(own, 'GET /api/v1/deployments HTTP/1.1', [`Host: ${host}`]);
      expect(res.status, JSON.stringify(host)).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.body).not.toMatch(/"code":"ROUTE_NOT_FOUND"|"deployments"/);
    }
    expect(await deploymentNames(t)).toEqual(['target']);
  });

  it('loopback names with the listener’s port are served', async () => {
    const port = portOf(t);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      const res = await call(`${own}/api/v1/deployments`, { headers: { host } });
      expect(res.status, host).toBe(200);
    }
  });
});

describe('public_hosts', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({
      disable_token_authorization: true,
      public_hosts: 'models.example.com, admin.example.org:8443',
    });
    const made = await manage(t, 'POST', '/deployments', { name: 'target', upstream: UPSTREAM, access: 'public' });
    expect(made.status).toBe(201);
  });
  afterAll(() => t?.close());

  it('a listed name is served (any port when the entry has none, only that port when it has one)', async () => {
    const port = portOf(t);
    for (const host of [
      'models.example.com',
      `models.example.com:${port}`,
      'MODELS.example.com:443',
      'admin.example.org:8443',
    ]) {
      const res = await call(`${t.node.urls.management}/api/v1/deployments`, { headers: { host } });
      expect(res.status, host).toBe(200);
    }
    for (const host of ['admin.example.org', `admin.example.org:${port}`, 'example.com', 'x.models.example.com']) {
      const res = await call(`${t.node.urls.management}/api/v1/deployments`, { headers: { host } });
      expect(res.status, host).toBe(421);
    }
    // Loopback names still work next to the list.
    expect((await call(`${t.node.urls.management}/_health/live`)).status).toBe(200);
  });

  it('a page served under a listed name may change things; another origin still may not', async () => {
    const ok = await call(`${t.node.urls.management}/api/v1/deployments/target`, {
      method: 'PATCH',
      headers: { host: 'models.example.com', origin: 'http://models.example.com', 'content-type': 'application/json' },
      body: '{"upstream":"http://127.0.0.1:9200/"}',
    });
    expect(ok.status).toBe(200);
    const refused = await call(`${t.node.urls.management}/api/v1/deployments/target`, {
      method: 'PATCH',
      headers: { host: 'models.example.com', origin: 'http://evil.example', 'content-type': 'application/json' },
      body: '{"upstream":"http://evil.example/"}',
    });
    expect(refused.status).toBe(403);
    expect(await upstreamOf(t, 'target')).toBe('http://127.0.0.1:9200/');
  });
});

describe('token authorization enabled', () => {
  it('on loopback the Host allowlist still applies (rebinding would read open routes); Origin is not checked', async () => {
    const t = await startTestNode();
    try {
      for (const path of ['/_health/ready', '/api/v1/openapi.json', '/.well-known/jwks.json', '/api/v1/whoami']) {
        const res = await call(`${t.node.urls.management}${path}`, {
          headers: { host: 'evil.example', authorization: `Bearer ${t.keys.management}` },
        });
        expect(res.status, path).toBe(421);
      }
      // A bearer credential is never sent by a browser on its own, so a cross-site call needs the key.
      const withKey = await call(`${t.node.urls.management}/api/v1/deployments`, {
        method: 'POST',
        headers: {
          origin: 'http://evil.example',
          authorization: `Bearer ${t.keys.management}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: 'made', upstream: UPSTREAM }),
      });
      expect(withKey.status).toBe(201);
      const without = await call(`${t.node.urls.management}/api/v1/deployments`, {
        method: 'POST',
        headers: { origin: 'http://evil.example', 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'other', upstream: UPSTREAM }),
      });
      expect(without.status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('bound to all interfaces with no public_hosts, any Host is served; open, only the listener’s names', async () => {
    const secured = await startTestNode({ management_address: 'http://0.0.0.0:0' });
    const open = await startTestNode({ management_address: 'http://0.0.0.0:0', disable_token_authorization: true });
    try {
      for (const [t, expected] of [
        [secured, 200],
        [open, 421],
      ] as const) {
        const port = portOf(t);
        const base = `http://127.0.0.1:${port}`;
        expect((await call(`${base}/_health/live`, { headers: { host: `gateway.lan:${port}` } })).status).toBe(
          expected,
        );
        expect((await call(`${base}/_health/live`, { headers: { host: `127.0.0.1:${port}` } })).status).toBe(200);
      }
    } finally {
      await secured.close();
      await open.close();
    }
  });
});

describe('the decision, as a pure function', () => {
  const open = { open: true, protocol: 'http', checkHost: true, publicHosts: [] } as const;
  const req = (headers: GuardedRequest['headers'], method = 'POST'): GuardedRequest => ({
    method,
    headers,
    localAddress: '127.0.0.1',
    localPort: 8081,
  });

  it.each([
    [{ host: 'localhost:8081' }, 'GET', undefined],
    [{ host: 'localhost:8081', origin: 'http://evil.example' }, 'GET', undefined],
    [{ host: 'localhost:8081', origin: 'http://evil.example' }, 'HEAD', undefined],
    [{ host: 'localhost:8081', origin: 'http://evil.example' }, 'OPTIONS', undefined],
    [{ host: 'localhost:8081', origin: 'http://evil.example' }, 'PROPFIND', 'CROSS_ORIGIN_REFUSED'],
    [{ host: 'localhost:8081', origin: 'http://evil.example' }, 'post', 'CROSS_ORIGIN_REFUSED'],
    [{ host: 'localhost:8081', origin: 'http://localhost:8081' }, 'POST', undefined],
    [{ host: 'localhost:8081', origin: 'http://localhost:8081 ' }, 'POST', 'CROSS_ORIGIN_REFUSED'],
    [{ host: 'localhost:8081', 'sec-fetch-site': 'cross-site' }, 'POST', 'CROSS_ORIGIN_REFUSED'],
    [{ host: 'localhost:8081', 'sec-fetch-site': 'none' }, 'POST', undefined],
    [{ host: 'localhost:8081', 'sec-fetch-site': 'same-origin, Cross-Site' }, 'POST', 'CROSS_ORIGIN_REFUSED'],
    [{ host: 'evil.example:8081' }, 'GET', 'HOST_NOT_ALLOWED'],
    [{}, 'GET', 'HOST_NOT_ALLOWED'],
  ] as const)('%j %s → %s', (headers, method, expected) => {
    expect(guardDecision(req(headers, method), open)).toBe(expected);
  });

  it('an absolute-form request target names the authority, whatever Host says', () => {
    const at = (target: string) => guardDecision({ ...req({ host: 'localhost:8081' }, 'GET'), target }, open);
    expect(at('http://evil.example/api/v1/deployments')).toBe('HOST_NOT_ALLOWED');
    expect(at('HTTP://evil.example:8081')).toBe('HOST_NOT_ALLOWED');
    expect(at('http://localhost:8081/api/v1/deployments')).toBeUndefined();
    expect(at('/api/v1/deployments')).toBeUndefined();
    expect(guardDecision({ ...req({ host: 'evil.example' }, 'GET'), target: 'http://127.0.0.1:8081/' }, open)).toBe(
      undefined,
    );
  });

  it('an IP literal equal to the address the connection reached is the listener; others are not', () => {
    const lan = { ...req({ host: '10.0.0.5:8081' }), localAddress: '::ffff:10.0.0.5' };
    expect(guardDecision(lan, open)).toBeUndefined();
    expect(guardDecision({ ...lan, headers: { host: '10.0.0.6:8081' } }, open)).toBe('HOST_NOT_ALLOWED');
  });

  it.each([
    ['localhost:8081', { host: 'localhost', port: 8081 }],
    ['[::1]', { host: '::1', port: undefined }],
    ['Example.COM', { host: 'example.com', port: undefined }],
    ['evil@localhost:8081', undefined],
    ['localhost.', undefined],
    ['localhost:', undefined],
    ['localhost:65536', undefined],
    ['local_host', undefined],
    ['', undefined],
    ['[::1]x', undefined],
  ])('parseAuthority(%j)', (text, expected) => {
    expect(parseAuthority(text)).toEqual(expected);
  });
});

describe('the public_hosts key', () => {
  it('takes a comma-separated list, or a YAML list in the file, and names a bad entry', () => {
    const cli = resolveConfig({ cli: { public_hosts: 'a.example, b.example:8443' } });
    expect(cli.ok && cli.config.public_hosts).toBe('a.example, b.example:8443');
    const file = resolveConfig({
      file: { path: 'modelgate.yaml', values: { public_hosts: ['a.example', 'b.example:1'] } },
    });
    expect(file.ok && file.config.public_hosts).toBe('a.example,b.example:1');
    for (const bad of ['http://a.example', 'a.example/x', 'user@a.example', 'a.example:99999']) {
      const r = resolveConfig({ cli: { public_hosts: bad } });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.problems.join('\n')).toMatch(/public_hosts must be host or host:port/);
    }
    const notList = resolveConfig({ file: { path: 'modelgate.yaml', values: { public_hosts: [1, 2] } } });
    expect(notList.ok).toBe(false);
  });
});
