import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { allAuditRecords, auditPage, waitForAudit } from './helpers/audit.js';
import { STORE_BACKENDS } from './helpers/backends.js';
import { call } from './helpers/http.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Hostile: every credential, password and secret value the test can lay hands on goes into
 * headers, bodies, query strings and path segments, on both listeners, as a legitimate user and as
 * an attacker would put them; then the whole audit table (every column, raw), the API's output and
 * the CLI's output are searched for each of them and for their SHA-256 hashes.
 */
describe.each(STORE_BACKENDS)('X4 no secret in the audit log on $name', ({ setup }) => {
  let t: TestNode;
  let up: TestUpstream;
  let drop: () => Promise<void>;
  let storeFlags: string[];
  const secrets = new Set<string>();
  const keep = (...values: (string | undefined)[]) => {
    for (const v of values) {
      expect(typeof v, 'a secret the test meant to use is missing').toBe('string');
      secrets.add(v as string);
    }
  };

  beforeAll(async () => {
    const { overrides, drop: dropDb } = await setup();
    drop = dropDb;
    up = await recordingUpstream('secrets');
    t = await startTestNode({ ...overrides, failure_limit: '3' });
    storeFlags =
      'database_url' in overrides
        ? ['--database-url', String(overrides.database_url)]
        : ['--data-dir', join(t.dir, 'data')];
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
    await drop?.();
  });

  it('uses every kind of secret in many requests, then finds none of them (nor their hashes) anywhere in the audit log', async () => {
    const mgmt = t.keys.management;
    const api = t.keys.api;
    keep(mgmt, t.keys.inference, api);
    // `from`: the misuse below comes from its own address, so its failures (throttled per address)
    // do not lock out the checks made from 127.0.0.1.
    const m = (
      method: string,
      path: string,
      token: string | undefined,
      body?: unknown,
      headers = {},
      from = '127.0.0.1',
    ) =>
      call(`${t.node.urls.management}${path}`, {
        method,
        localAddress: from,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });

    // Admin keys through the CLI (which records its commands), used, then deleted by the key itself.
    const made = await runCliToEnd(['admin-key-create', '-o', 'json', '--description', 'ci', ...storeFlags]);
    const admin = JSON.parse(made.stdout) as { id: string; key: string };
    keep(admin.key);
    expect((await m('POST', '/api/v1/secrets', admin.key, { name: 'by-admin', generate: true })).status).toBe(201);

    // Secret values: chosen, generated, replaced; one is the Basic password of a deployment.
    const chosen = 'correct horse battery staple, 42!';
    const password = 'Tr0ub4dor&3-basic-password';
    keep(chosen, password);
    expect((await m('POST', '/api/v1/secrets', mgmt, { name: 'chosen', value: chosen })).status).toBe(201);
    const generated = (await m('POST', '/api/v1/secrets', mgmt, { name: 'gen', generate: true })).json.value;
    keep(generated);
    expect((await m('POST', '/api/v1/secrets', mgmt, { name: 'basic-pass', value: 'first-value-xyz' })).status).toBe(
      201,
    );
    keep('first-value-xyz');
    expect((await m('PUT', '/api/v1/secrets/basic-pass', mgmt, { value: password })).status).toBe(200);
    const regenerated = (await m('PUT', '/api/v1/secrets/gen', admin.key, { generate: true })).json.value;
    keep(regenerated);

    // Deployments with API keys and a Basic password; more keys, revealed again.
    const dep = await m('POST', '/api/v1/deployments', mgmt, {
      name: 'vault',
      upstream: up.url,
      access: 'protected',
      auth: { basic_secret: 'basic-pass', api_keys: true },
      api_keys: 2,
    });
    expect(dep.status, dep.text).toBe(201);
    const [k1, k2] = dep.json.api_keys as { id: string; key: string }[];
    keep(k1!.key, k2!.key);
    const more = await m('POST', '/api/v1/api-keys', mgmt, { deployment: 'vault', description: `pw ${password}` });
    expect(more.status).toBe(201);
    keep(more.json.api_keys[0].key);
    const other = await m('POST', '/api/v1/deployments', mgmt, { name: 'other', upstream: up.url, api_keys: 1 });
    keep(other.json.api_keys[0].key);
    expect((await m('GET', `/api/v1/api-keys/${k1!.id}/reveal`, mgmt)).json.key).toBe(k1!.key);
    const moreId = more.json.api_keys[0].id as string;
    expect((await m('DELETE', `/api/v1/api-keys/${moreId}`, mgmt)).status).toBe(204);

    // Node keys rotated through /token: the new ones are secrets too.
    const rotated = await m('POST', '/token?type=inference', api);
    expect(rotated.status).toBe(200);
    const inference = rotated.json.key as string;
    keep(inference);

    // Misuse on the management API: credentials where names, ids and queries belong.
    const unknown = generateCredential('admin_key');
    keep(unknown);
    for (const [method, path, token, body] of [
      ['DELETE', `/api/v1/api-keys/${k2!.key}`, mgmt, undefined],
      ['DELETE', `/api/v1/api-keys/${sha256(k2!.key)}`, mgmt, undefined],
      ['DELETE', `/api/v1/secrets/${generated}`, mgmt, undefined],
      ['DELETE', `/api/v1/secrets/${sha256(password)}`, admin.key, undefined],
      ['POST', `/api/v1/deployments/${mgmt}/redeploy`, mgmt, undefined],
      [
        'POST',
        `/api/v1/secrets?token=${mgmt}&password=${encodeURIComponent(password)}`,
        mgmt,
        { name: 'q', value: password },
      ],
      ['POST', '/api/v1/secrets', mgmt, { name: generated, value: chosen }],
      ['POST', '/api/v1/secrets', mgmt, { name: 'x', value: chosen, extra: mgmt }],
      ['POST', '/api/v1/secrets', mgmt, `{"name":"broken","value":"${password}"`],
      ['PATCH', '/api/v1/deployments/vault', mgmt, { upstream: `http://admin:${password}@127.0.0.1:1` }],
      ['PUT', `/api/v1/secrets/${encodeURIComponent(chosen)}`, mgmt, { value: chosen }],
      ['POST', '/api/v1/secrets', unknown, { name: 'z', value: password }],
      ['POST', '/api/v1/secrets', inference, { name: 'z', value: password }],
      ['DELETE', '/api/v1/deployments/vault', k1!.key, undefined],
      ['DELETE', '/api/v1/deployments/vault', password, undefined],
      ['GET', '/api/v1/deployments', sha256(mgmt), undefined],
      ['GET', `/api/v1/audit?actor=${mgmt}`, inference, undefined],
      ['GET', `/token?type=management&key=${api}`, mgmt, undefined],
    ] as const) {
      const res = await m(
        method,
        path,
        token,
        body,
        {
          'x-api-key': mgmt,
          cookie: `s=${password}`,
          'x-request-id': 'x',
        },
        '127.0.0.9',
      );
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(200);
    }
    // The admin key, deleted by the key itself on the command line, then refused.
    expect((await runCliToEnd(['admin-key-delete', admin.key, ...storeFlags])).code).toBe(0);
    expect((await runCliToEnd(['admin-key-delete', admin.key, ...storeFlags])).code).not.toBe(0);
    let refused = 0;
    for (let i = 0; i < 20 && refused === 0; i++) {
      refused = (await m('GET', '/api/v1/deployments', admin.key)).status === 401 ? 1 : 0;
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused).toBe(1);

    // The data plane: Basic with right and wrong passwords, keys of other deployments, throttling.
    const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    const d = (authorization: string, localAddress = '127.0.0.1', path = '/vault/predict') =>
      call(`${t.node.urls.inference}${path}`, {
        method: 'POST',
        headers: { authorization, 'x-api-key': k1!.key },
        body: JSON.stringify({ password, key: k1!.key }),
        localAddress,
      });
    expect((await d(basic('modelgate', password))).status).toBe(200);
    expect((await d(`Bearer ${k1!.key}`)).status).toBe(200);
    expect((await d(`Bearer ${other.json.api_keys[0].key}`)).status).toBe(403);
    expect((await d(`Bearer ${inference}`, '127.0.0.1', `/vault/predict?api_key=${k1!.key}`)).status).toBe(200);
    expect((await d(basic('modelgate', chosen))).status).toBe(401);
    expect((await d(basic(password, password))).status).toBe(401);
    expect([401, 403]).toContain((await d(`Bearer ${mgmt}`)).status);
    const guess = 'guessed-password-0001';
    keep(guess);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await d(basic('modelgate', guess), '127.0.0.4')).status);
    expect(statuses).toContain(429);
    expect((await d(basic('modelgate', password), '127.0.0.4', `/vault/${password}`)).status).toBe(429);

    // Everything is on record by now (the writer flushes in batches).
    await waitForAudit(t, 'listener=inference', (r) => r.length >= 8);

    const needles = [...secrets].flatMap((s) => [
      s,
      sha256(s),
      encodeURIComponent(s),
      Buffer.from(s).toString('base64'),
      Buffer.from(`modelgate:${s}`).toString('base64'),
    ]);
    const raw = await t.node.store.db.selectFrom('audit_log').selectAll().execute();
    const table = raw.map((r) => Object.values(r).map(String).join('\u0000')).join('\n');
    const api1 = (await auditPage(t, 'limit=1000')).text;
    const api2 = JSON.stringify(await allAuditRecords(t));
    const cli = await runCliToEnd(['audit', '-o', 'json', '--limit', '1000', '--endpoint', t.node.urls.management], {
      env: { MODELGATE_API_TOKEN: mgmt },
    });
    const cliTable = await runCliToEnd(['audit', '--limit', '1000', '--endpoint', t.node.urls.management], {
      env: { MODELGATE_API_TOKEN: mgmt },
    });
    expect(cli.code, cli.stderr).toBe(0);

    // The search can fail: the log is full of records, names and ids.
    expect(raw.length).toBeGreaterThanOrEqual(35);
    for (const expected of [
      'vault',
      admin.id,
      moreId,
      'secret.update',
      'deployment.invoke',
      'admin_key.delete',
      'denied',
    ]) {
      expect(table).toContain(expected);
      expect(cli.stdout).toContain(expected);
    }
    for (const [where, text] of [
      ['audit table', table],
      ['API output', api1],
      ['API output (paged)', api2],
      ['CLI json output', cli.all],
      ['CLI table output', cliTable.all],
    ] as const) {
      // The message names the needle by number only, so a failure never prints a secret.
      needles.forEach((needle, i) => {
        expect(text.includes(needle), `${where} contains secret-derived needle #${i}`).toBe(false);
      });
    }
  });
});
