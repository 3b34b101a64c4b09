import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';
import { generateCredential } from '../src/kernel/credential.js';
import { testClock } from './helpers/clock.js';
import { withBrokenChecksum } from './helpers/credentials.js';
import { getJson, rawRequest } from './helpers/http.js';
import { startTestNode } from './helpers/in-process-node.js';
import { type NodeProcess, startNodeProcess, tempDir } from './helpers/node-process.js';

interface KeyFile {
  management: { key: string; 'expiration time': string };
  inference: { key: string; 'expiration time': string };
  API: { key: string };
}

const readKeys = (dir: string) => JSON.parse(readFileSync(join(dir, 'key_file.json'), 'utf8')) as KeyFile;

let running: NodeProcess[] = [];
afterEach(async () => {
  await Promise.all(running.map((p) => p.stop()));
  running = [];
});

async function start(args: string[] = [], options: Parameters<typeof startNodeProcess>[1] = {}) {
  const proc = await startNodeProcess(args, options);
  running.push(proc);
  return proc;
}

describe('T2: precedence of the disable switch (environment > command line > config file > default)', () => {
  const file = (values: Record<string, unknown>) => ({ path: 'modelgate.yaml', values });
  const env = { MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'true' };
  const cases: [string, Parameters<typeof resolveConfig>[0], boolean][] = [
    ['default: enabled', {}, false],
    ['config file true: disabled', { file: file({ disable_token_authorization: true }) }, true],
    ['config file false: enabled', { file: file({ disable_token_authorization: false }) }, false],
    [
      'CLI flag over config file false (TorchServe example 1): disabled',
      { file: file({ disable_token_authorization: false }), cli: { disable_token_authorization: true } },
      true,
    ],
    [
      'config file true, no CLI flag (TorchServe example 2): disabled',
      { file: file({ disable_token_authorization: true }), cli: {} },
      true,
    ],
    ['env var ignored without enable_envvars_config', { env }, false],
    [
      'env var ignored when enable_envvars_config is false in the file',
      { file: file({ enable_envvars_config: false }), env },
      false,
    ],
    [
      'env var honoured with enable_envvars_config in the file',
      { file: file({ enable_envvars_config: true }), env },
      true,
    ],
    [
      'env var false beats CLI flag true when env config is on',
      {
        file: file({ enable_envvars_config: true }),
        cli: { disable_token_authorization: true },
        env: { MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'false' },
      },
      false,
    ],
    [
      'env var true beats config file false when env config is enabled by flag',
      {
        file: file({ disable_token_authorization: false }),
        cli: { enable_envvars_config: true },
        env,
      },
      true,
    ],
    ['env cannot switch env config on by itself', { env: { ...env, MODELGATE_ENABLE_ENVVARS_CONFIG: 'true' } }, false],
  ];
  it.each(cases)('%s', (_name, sources, disabled) => {
    const result = resolveConfig(sources);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.config.disable_token_authorization).toBe(disabled);
  });

  it('a real process honours --disable-token-auth: no key file, open API, loud warning', async () => {
    const node = await start(['--disable-token-auth']);
    expect(existsSync(join(node.cwd, 'key_file.json'))).toBe(false);
    const who = await getJson(`${node.urls.management}/api/v1/whoami`);
    expect(who.status).toBe(200);
    expect(who.body).toEqual({ kind: 'anonymous', id: 'anonymous', privileges: ['admin', 'create_service'] });
    expect(node.output()).toMatch(/Token Authorization Disabled/);
    expect(node.output()).not.toMatch(/Token Authorization Enabled/);
  });

  it('a real process ignores MODELGATE_DISABLE_TOKEN_AUTHORIZATION without enable_envvars_config', async () => {
    const node = await start([], { env: { MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'true' } });
    expect(existsSync(join(node.cwd, 'key_file.json'))).toBe(true);
    expect((await getJson(`${node.urls.management}/api/v1/whoami`)).status).toBe(401);
    expect(node.output()).toMatch(/Token Authorization Enabled/);
  });

  it('a real process honours the env var with enable_envvars_config in the config file', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'modelgate.yaml'), 'enable_envvars_config: true\n');
    const node = await start([], { cwd, env: { MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'true' } });
    expect(existsSync(join(cwd, 'key_file.json'))).toBe(false);
    expect((await getJson(`${node.urls.management}/api/v1/whoami`)).status).toBe(200);
  });

  it('warns that the node is open beyond loopback when disabled on 0.0.0.0', async () => {
    const node = await start(['--disable-token-auth', '--inference-address', 'http://0.0.0.0:0']);
    expect(node.output()).toMatch(/Listeners bound beyond loopback: inference on 0\.0\.0\.0/);
  });
});

describe('node keys end to end (real sockets)', () => {
  it('key file, whoami per key, rotation, old keys refused, file removed on SIGTERM', async () => {
    const node = await start();
    const path = join(node.cwd, 'key_file.json');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const keys = readKeys(node.cwd);
    expect(keys.management.key).toMatch(/^mgm_/);
    expect(keys.inference.key).toMatch(/^mgi_/);
    expect(keys.API.key).toMatch(/^mgr_/);
    expect(Object.keys(keys.API)).toEqual(['key']);
    for (const which of ['management', 'inference'] as const) {
      const ahead = Date.parse(keys[which]['expiration time']) - Date.now();
      expect(ahead).toBeGreaterThan(59 * 60_000);
      expect(ahead).toBeLessThanOrEqual(60 * 60_000);
    }
    expect(node.output()).toMatch(/Token Authorization Enabled/);

    const whoami = (token: string) => getJson(`${node.urls.management}/api/v1/whoami`, token);
    expect(await whoami(keys.management.key)).toMatchObject({
      status: 200,
      body: { kind: 'management_key', id: 'node:management' },
    });
    const asInference = await whoami(keys.inference.key);
    expect(asInference.status).toBe(403);
    expect(asInference.body.error?.code).toBe('FORBIDDEN');
    expect((await whoami(keys.API.key)).status).toBe(403);

    // The token API takes only the API key.
    expect((await getJson(`${node.urls.management}/token?type=inference`, keys.management.key)).status).toBe(403);

    const rotatedInference = await getJson(`${node.urls.management}/token?type=inference`, keys.API.key);
    expect(rotatedInference.status).toBe(200);
    const newInference = rotatedInference.body.key as string;
    expect(newInference).toMatch(/^mgi_/);
    expect(newInference).not.toBe(keys.inference.key);
    expect(readKeys(node.cwd).inference.key).toBe(newInference);
    expect(readKeys(node.cwd).management.key).toBe(keys.management.key);

    const rotatedManagement = await getJson(`${node.urls.management}/token?type=management`, keys.API.key, {
      method: 'POST',
    });
    expect(rotatedManagement.status).toBe(200);
    const newManagement = rotatedManagement.body.key as string;
    expect(Date.parse(rotatedManagement.body['expiration time'] as string)).toBeGreaterThan(Date.now() + 59 * 60_000);
    const afterRotation = readKeys(node.cwd);
    expect(afterRotation.management.key).toBe(newManagement);
    expect(afterRotation.management['expiration time']).toBe(rotatedManagement.body['expiration time']);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const old = await whoami(keys.management.key);
    expect(old.status).toBe(401);
    expect(old.body.error?.code).toBe('CREDENTIAL_UNKNOWN');
    expect((await whoami(newManagement)).status).toBe(200);

    expect(await node.stop('SIGTERM')).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it('keys expire after token_expiration_min: 401 CREDENTIAL_EXPIRED, then renewal works', async () => {
    // In process, on a test clock moved past the expiry instead of waiting for it.
    const clock = testClock();
    const startedAt = clock.now();
    const t = await startTestNode({ token_expiration_min: '1' }, {}, { clock: clock.now });
    try {
      const keys = readKeys(t.dir);
      const expiresAt = Date.parse(keys.management['expiration time']);
      expect(expiresAt - startedAt).toBeGreaterThanOrEqual(60_000);
      expect(expiresAt - clock.now()).toBeLessThanOrEqual(60_000);
      const whoami = (key: string) => getJson(`${t.node.urls.management}/api/v1/whoami`, key);
      expect((await whoami(keys.management.key)).status).toBe(200);
      clock.at(expiresAt + 1000);
      const expired = await whoami(keys.management.key);
      expect(expired.status).toBe(401);
      expect(expired.body.error?.code).toBe('CREDENTIAL_EXPIRED');
      expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="modelgate", error="invalid_token"');
      const renewed = await getJson(`${t.node.urls.management}/token?type=management`, keys.API.key);
      expect(renewed.status).toBe(200);
      expect((await whoami(renewed.body.key as string)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('replaces a key file left behind by a crash, never trusting it', async () => {
    const cwd = tempDir();
    const stale = {
      management: { key: generateCredential('management_key'), 'expiration time': '2999-01-01T00:00:00.000Z' },
      inference: { key: generateCredential('inference_key'), 'expiration time': '2999-01-01T00:00:00.000Z' },
      API: { key: generateCredential('token_api_key') },
    };
    writeFileSync(join(cwd, 'key_file.json'), JSON.stringify(stale), { mode: 0o644 });
    const node = await start([], { cwd });
    const fresh = readKeys(cwd);
    expect(fresh.management.key).not.toBe(stale.management.key);
    expect(statSync(join(cwd, 'key_file.json')).mode & 0o777).toBe(0o600);
    expect((await getJson(`${node.urls.management}/api/v1/whoami`, stale.management.key)).status).toBe(401);
  });
});

describe('bad input on the management API', () => {
  it('answers every bad credential with 401, a stable code, a Bearer challenge, and never echoes it', async () => {
    const node = await start();
    const keys = readKeys(node.cwd);
    const base = `${node.urls.management}/api/v1/whoami`;
    const bad: [string, string | undefined, string][] = [
      ['missing', undefined, 'CREDENTIAL_MISSING'],
      ['no scheme', keys.management.key, 'CREDENTIAL_MALFORMED'],
      [
        'basic scheme',
        `Basic ${Buffer.from(`modelgate:${keys.management.key}`).toString('base64')}`,
        'CREDENTIAL_MALFORMED',
      ],
      ['bad base62', `Bearer ${keys.management.key.slice(0, -3)}%$#`, 'CREDENTIAL_MALFORMED'],
      ['bad checksum', `Bearer ${withBrokenChecksum(keys.management.key)}`, 'CREDENTIAL_MALFORMED'],
      ['unknown but well-formed', `Bearer ${generateCredential('management_key')}`, 'CREDENTIAL_UNKNOWN'],
      ['unknown admin key', `Bearer ${generateCredential('admin_key')}`, 'CREDENTIAL_UNKNOWN'],
      ['random junk', 'Bearer hello', 'CREDENTIAL_MALFORMED'],
    ];
    for (const [name, header, code] of bad) {
      const res = await fetch(base, { headers: header === undefined ? {} : { authorization: header } });
      const text = await res.text();
      expect(res.status, name).toBe(401);
      expect(JSON.parse(text).error.code, name).toBe(code);
      expect(res.headers.get('www-authenticate'), name).toMatch(/^Bearer realm="modelgate"/);
      expect(text, name).not.toContain(keys.management.key.slice(4, 20));
    }
  });

  it('refuses two Authorization headers even when one is valid', async () => {
    const node = await start();
    const keys = readKeys(node.cwd);
    const res = await rawRequest(node.urls.management, 'GET /api/v1/whoami HTTP/1.1', [
      `Authorization: Bearer ${keys.management.key}`,
      `Authorization: Bearer ${keys.management.key}`,
    ]);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('CREDENTIAL_AMBIGUOUS');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.body).not.toContain(keys.management.key);
  });

  it('token API: a type other than management or inference is 400 TOKEN_TYPE_INVALID', async () => {
    const node = await start();
    const keys = readKeys(node.cwd);
    for (const q of ['?type=API', '?type=', '', '?type=management&type=inference', '?type=%00']) {
      const res = await getJson(`${node.urls.management}/token${q}`, keys.API.key);
      expect(res.status, q).toBe(400);
      expect(res.body.error?.code, q).toBe('TOKEN_TYPE_INVALID');
    }
    // HEAD is no way to rotate a key either.
    const head = await fetch(`${node.urls.management}/token?type=management`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${keys.API.key}` },
    });
    expect(head.status).toBeGreaterThanOrEqual(400);
    // The keys were not touched by the refused calls.
    expect(readKeys(node.cwd)).toEqual(keys);
  });

  it('SIGTERM during a slow in-flight request: it completes, then the process exits 0', async () => {
    const node = await start();
    const keys = readKeys(node.cwd);
    const url = new URL(`${node.urls.management}/token?type=inference`);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          headers: { authorization: `Bearer ${keys.API.key}`, 'content-type': 'application/json', 'content-length': 2 },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      // Half the body now; the rest after the signal, so the request is in flight when it lands.
      req.write('{');
      setTimeout(() => {
        node.child.kill('SIGTERM');
        setTimeout(() => req.end('}'), 700);
      }, 300);
    });
    const done = await response;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body).key).toMatch(/^mgi_/);
    expect(await node.exited).toBe(0);
    expect(existsSync(join(node.cwd, 'key_file.json'))).toBe(false);
  });
});
