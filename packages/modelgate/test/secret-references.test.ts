import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFor } from './helpers/backends.js';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd } from './helpers/node-process.js';
import { api, GOOD_PASSWORD, userWithSession } from './helpers/people.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * Issue 17, defect 3, and its structural test: every path that names a Basic secret (deploy,
 * deployment update, redeploy, service version, declarative apply) asks the one question
 * `authorizeSecretReference` asks: `use` on the secret. A caller without it gets the 404 of a
 * name that does not exist, byte for byte; the secret's password never opens a deployment it made;
 * the owner can still delete the secret afterwards; a caller with `use` is served.
 */

const rand = () => randomBytes(4).toString('hex');
type Res = Awaited<ReturnType<typeof api>>;

/** What a caller can read from a refusal, with the name it gave taken out. */
function refusal(res: Res, name: string) {
  const error = res.body?.error ?? {};
  return {
    status: res.status,
    code: error.code,
    message: String(error.message).replaceAll(name, 'NAME'),
    details: error.details,
  };
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`references to a secret on ${dialect}`, () => {
    let t: TestNode;
    let drop: (() => Promise<void>) | undefined;
    let upstream: TestUpstream;
    let m: string;
    let owner: string;
    let mallory: string;
    let friend: string;
    const svc = 'svc';
    const inf = 'inf';

    beforeAll(async () => {
      const store = await storeFor(dialect);
      drop = store.drop;
      t = await startTestNode(store.overrides);
      upstream = await recordingUpstream('model');
      m = t.keys.management;
      const must = async (token: string, method: string, path: string, body?: unknown) => {
        const res = await api(t, token, method, path, body);
        if (res.status >= 300) throw new Error(`setup ${method} ${path}: ${res.status} ${res.text}`);
      };
      await must(m, 'POST', '/services', { name: svc });
      await must(m, 'POST', '/infrastructures', { name: inf });
      await must(m, 'POST', `/services/${svc}/versions`, { version: '1' });
      // Mallory and the friend may write versions of the service and deploy it: everything but the secret.
      for (const group of ['deployers', 'friends']) {
        await must(m, 'POST', '/groups', { name: group });
        await must(m, 'PUT', `/services/${svc}/grants/${group}`, { rights: ['write', 'deploy'] });
        await must(m, 'PUT', `/infrastructures/${inf}/grants/${group}`, { rights: ['deploy'] });
      }
      owner = await userWithSession(t, 'owner');
      mallory = await userWithSession(t, 'mallory', ['deployers']);
      friend = await userWithSession(t, 'friend', ['friends']);
    }, 60_000);
    afterAll(async () => {
      await t?.close();
      await upstream?.close();
      await drop?.();
    });

    /** A secret the owner creates (so owns), with `use` granted to the friend's group. */
    async function ownedSecret(): Promise<{ name: string; value: string }> {
      const secret = { name: `pw-${rand()}`, value: `${GOOD_PASSWORD} ${rand()}` };
      expect((await api(t, owner, 'POST', '/secrets', secret)).status).toBe(201);
      const grant = await api(t, owner, 'PUT', `/secrets/${secret.name}/grants/friends`, { rights: ['use'] });
      expect(grant.status).toBe(200);
      return secret;
    }

    /** The data plane's answer to the secret's password on a deployment. */
    async function basic(deployment: string, password: string): Promise<number> {
      const auth = Buffer.from(`modelgate:${password}`).toString('base64');
      const res = await fetch(`${t.node.urls.inference}/${deployment}/predict`, {
        headers: { authorization: `Basic ${auth}` },
      });
      await res.arrayBuffer();
      return res.status;
    }

    const deployment = (name: string, extra: Record<string, unknown> = {}) => ({
      name,
      service: svc,
      infrastructure: inf,
      version: '1',
      upstream: upstream.url,
      access: 'protected',
      ...extra,
    });
    const must = async (method: string, path: string, body?: unknown) => {
      const res = await api(t, m, method, path, body);
      expect(res.status, `${method} ${path}: ${res.text}`).toBeLessThan(300);
    };

    /**
     * One entry point: `prepare` (as the management key) makes what the attempt needs for a
     * secret, `attempt` names the secret as the caller, `deployed` is the deployment whose
     * data-plane answer shows whether the secret's password opens it, `undo` removes what
     * `prepare` made (so the owner's delete shows what the attempt left behind).
     */
    interface EntryPoint {
      prepare?(secret: string, id: string): Promise<void>;
      attempt(token: string, secret: string, id: string): Promise<Res>;
      deployed(id: string): string;
      undo?(id: string): Promise<void>;
    }
    const ENTRY_POINTS: Record<string, EntryPoint> = {
      'service version create (then its deploy)': {
        async attempt(token, secret, id) {
          const made = await api(t, token, 'POST', `/services/${svc}/versions`, {
            version: `v${id}`,
            auth: { basic_secret: secret },
          });
          if (made.status !== 201) return made;
          return api(t, token, 'POST', '/deployments', deployment(`d${id}`, { version: `v${id}` }));
        },
        deployed: (id) => `d${id}`,
      },
      'deployment create naming it': {
        attempt: (token, secret, id) =>
          api(t, token, 'POST', '/deployments', deployment(`d${id}`, { auth: { basic_secret: secret } })),
        deployed: (id) => `d${id}`,
      },
      'deployment create of a version that names it': {
        prepare: (secret, id) =>
          must('POST', `/services/${svc}/versions`, { version: `v${id}`, auth: { basic_secret: secret } }),
        attempt: (token, _secret, id) =>
          api(t, token, 'POST', '/deployments', deployment(`d${id}`, { version: `v${id}` })),
        deployed: (id) => `d${id}`,
        undo: (id) => must('DELETE', `/services/${svc}/versions/v${id}`),
      },
      'deployment update naming it': {
        prepare: (_secret, id) => must('POST', '/deployments', deployment(`d${id}`)),
        attempt: (token, secret, id) =>
          api(t, token, 'PATCH', `/deployments/d${id}`, { auth: { basic_secret: secret } }),
        deployed: (id) => `d${id}`,
        undo: (id) => must('DELETE', `/deployments/d${id}`),
      },
      'deployment update to a version that names it': {
        async prepare(secret, id) {
          await must('POST', `/services/${svc}/versions`, { version: `v${id}`, auth: { basic_secret: secret } });
          await must('POST', '/deployments', deployment(`d${id}`));
        },
        attempt: (token, _secret, id) => api(t, token, 'PATCH', `/deployments/d${id}`, { version: `v${id}` }),
        deployed: (id) => `d${id}`,
        async undo(id) {
          await must('DELETE', `/deployments/d${id}`);
          await must('DELETE', `/services/${svc}/versions/v${id}`);
        },
      },
    };

    for (const [entry, e] of Object.entries(ENTRY_POINTS)) {
      it(`${entry}: without use, the 404 of a missing name and no deployment the password opens; the owner still deletes it`, async () => {
        const secret = await ownedSecret();
        const id = rand();
        await e.prepare?.(secret.name, id);
        const hidden = await e.attempt(mallory, secret.name, id);
        expect(hidden.status, hidden.text).toBe(404);
        // The same answer for a name nobody has: hidden and missing names are indistinguishable.
        const missingName = `free-${rand()}`;
        const missingId = rand();
        await e.prepare?.(missingName, missingId);
        const missing = await e.attempt(mallory, missingName, missingId);
        expect(refusal(hidden, secret.name)).toEqual(refusal(missing, missingName));
        expect(refusal(hidden, secret.name).code).toBe('RESOURCE_NOT_FOUND');
        expect(hidden.text).not.toContain(secret.value);
        expect(missing.text).not.toMatch(/mgs_|"value"|generated/);
        // Nothing was made for the missing name, and the password opens nothing.
        expect((await api(t, m, 'GET', '/secrets?limit=1000')).text).not.toContain(missingName);
        expect(await basic(e.deployed(id), secret.value)).not.toBe(200);
        expect([401, 404]).toContain(await basic(e.deployed(id), secret.value));
        await e.undo?.(id);
        await e.undo?.(missingId);
        const deleted = await api(t, owner, 'DELETE', `/secrets/${secret.name}`);
        expect(deleted.status, deleted.text).toBe(204);
      });

      it(`${entry}: with use, allowed, and the password opens the deployment`, async () => {
        const secret = await ownedSecret();
        const id = rand();
        await e.prepare?.(secret.name, id);
        const res = await e.attempt(friend, secret.name, id);
        expect(res.status, res.text).toBeLessThan(300);
        expect(res.text).not.toContain(secret.value);
        expect(await basic(e.deployed(id), secret.value)).toBe(200);
        expect(await basic(e.deployed(id), `${secret.value}x`)).toBe(401);
      });
    }

    /** Deployments that already name the secret (made by a key): re-reading it is a reference too. */
    const REREADS: Record<string, (token: string, id: string) => Promise<Res>> = {
      redeploy: (token, id) => api(t, token, 'POST', `/deployments/d${id}/redeploy`),
      'update of another setting': (token, id) =>
        api(t, token, 'PATCH', `/deployments/d${id}`, { upstream: `${upstream.url}/other` }),
    };
    for (const [entry, attempt] of Object.entries(REREADS)) {
      it(`${entry} re-reads the secret: 404 without use (revision unchanged, old value kept), allowed with it`, async () => {
        const secret = await ownedSecret();
        const id = rand();
        await must('POST', '/deployments', deployment(`d${id}`, { auth: { basic_secret: secret.name } }));
        // The owner rotates the value; only a (re)deploy by someone who may use it picks it up.
        const rotated = `${GOOD_PASSWORD} rotated ${rand()}`;
        expect((await api(t, owner, 'PUT', `/secrets/${secret.name}`, { value: rotated })).status).toBe(200);
        const refused = await attempt(mallory, id);
        expect(refused.status, refused.text).toBe(404);
        expect(refused.body.error.code).toBe('RESOURCE_NOT_FOUND');
        expect(refused.body.error.message).toBe(`No secret named "${secret.name}"`);
        const before = await api(t, m, 'GET', `/deployments/d${id}`);
        expect(before.body.revision).toBe(1);
        expect(before.body.upstream).toBe(upstream.url);
        expect(await basic(`d${id}`, rotated)).toBe(401);
        expect(await basic(`d${id}`, secret.value)).toBe(200);
        const allowed = await attempt(friend, id);
        expect(allowed.status, allowed.text).toBe(200);
        expect(allowed.body.revision).toBe(2);
        expect(await basic(`d${id}`, rotated)).toBe(200);
      });
    }

    it('declarative apply: a hidden secret is refused exactly like a missing one; with use it is applied', async () => {
      const file = (secret: string, id: string, declare: boolean) => {
        const path = join(t.dir, `apply-${id}.yaml`);
        const secrets = declare ? `secrets:\n  - name: ${secret}\n` : '';
        writeFileSync(
          path,
          `${secrets}services:\n  - name: ${svc}\n    versions:\n      - version: "v${id}"\n        auth: { basic_secret: ${secret} }\n` +
            `deployments:\n  - { name: d${id}, upstream: "${upstream.url}", access: protected, infrastructure: ${inf}, service: ${svc}, version: "v${id}" }\n`,
        );
        return path;
      };
      const apply = (token: string, path: string) =>
        runCliToEnd(['apply', '-f', path, '--api-token', token, '--endpoint', t.node.urls.management], {
          cwd: t.dir,
        });
      const secret = await ownedSecret();
      for (const declare of [false, true]) {
        const id = rand();
        const hidden = await apply(mallory, file(secret.name, id, declare));
        const missingName = `free-${rand()}`;
        const missing = await apply(mallory, file(missingName, id, declare));
        expect(hidden.code, hidden.all).not.toBe(0);
        expect(hidden.stderr.replaceAll(secret.name, 'NAME')).toBe(missing.stderr.replaceAll(missingName, 'NAME'));
        expect(await basic(`d${id}`, secret.value)).toBe(404);
        expect((await api(t, m, 'GET', `/services/${svc}/versions/v${id}`)).status).toBe(404);
      }
      const id = rand();
      const applied = await apply(friend, file(secret.name, id, false));
      expect(applied.code, applied.all).toBe(0);
      expect(await basic(`d${id}`, secret.value)).toBe(200);
    }, 60_000);

    it('keys and global admins may name a missing secret: deploy generates it (an admin user owns it)', async () => {
      await api(t, m, 'POST', '/groups', { name: 'admins', privileges: ['admin'] });
      const admin = await userWithSession(t, 'admin', ['admins']);
      const name = `gen-${rand()}`;
      const made = await api(
        t,
        admin,
        'POST',
        '/deployments',
        deployment(`d${rand()}`, { auth: { basic_secret: name } }),
      );
      expect(made.status, made.text).toBe(201);
      expect(made.body.generated_secret.name).toBe(name);
      expect(await basic(made.body.deployment.name, made.body.generated_secret.value)).toBe(200);
      // No longer an admin, it still owns what it made.
      expect((await api(t, m, 'DELETE', '/groups/admins/members/admin')).status).toBe(204);
      expect((await api(t, admin, 'GET', '/secrets')).text).toContain(name);
      const byKey = await api(
        t,
        m,
        'POST',
        '/deployments',
        deployment(`d${rand()}`, { auth: { basic_secret: `gen-${rand()}` } }),
      );
      expect(byKey.status).toBe(201);
      expect(byKey.body.generated_secret.value).toMatch(/^mgs_/);
      // Only a deploy, whose answer shows the value, generates one: an update or a version does not.
      const free = `gen-${rand()}`;
      const update = await api(t, m, 'PATCH', `/deployments/${byKey.body.deployment.name}`, {
        auth: { basic_secret: free },
      });
      expect(update.status).toBe(404);
      expect((await api(t, m, 'GET', '/secrets?limit=1000')).text).not.toContain(free);
    });
  });
}

/**
 * The structural half: the class cannot come back unnoticed. Every management operation whose
 * request can carry `basic_secret` has an entry point above, and in the source a secret's value is
 * opened in one function, after the one question.
 */
describe('every reference to a secret goes through authorizeSecretReference', () => {
  const SRC = join(import.meta.dirname, '../src');
  const sources = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
    );
  const files = sources(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));

  it('the operations whose body can name a Basic secret are exactly those the entry-point tests cover', async () => {
    const t = await startTestNode();
    try {
      const doc = (await (await fetch(`${t.node.urls.management}/api/v1/openapi.json`)).json()) as any;
      const schemas = doc.components?.schemas ?? {};
      const mentions = (schema: unknown, seen: Set<string>): boolean => {
        if (typeof schema !== 'object' || schema === null) return false;
        const ref = (schema as { $ref?: string }).$ref;
        if (ref !== undefined) {
          const name = ref.split('/').pop()!;
          if (seen.has(name)) return false;
          seen.add(name);
          return mentions(schemas[name], seen);
        }
        return Object.entries(schema).some(([k, v]) => k === 'basic_secret' || mentions(v, seen));
      };
      const naming: string[] = [];
      for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
        for (const [method, op] of Object.entries<any>(ops)) {
          if (mentions(op?.requestBody, new Set())) naming.push(`${method.toUpperCase()} ${path} (${op.operationId})`);
        }
      }
      // A new operation here needs its rows in the entry-point tests above (and the one question).
      expect(naming.sort()).toEqual([
        'PATCH /api/v1/deployments/{name} (updateDeployment)',
        'POST /api/v1/deployments (createDeployment)',
        'POST /api/v1/services/{name}/versions (createServiceVersion)',
      ]);
    } finally {
      await t.close();
    }
  });

  it('one function asks `use` on a secret, and the only read of a secret value comes after it', () => {
    const asking = files.filter((f) => /secret: [^,}]+, right: 'use'/.test(f.text)).map((f) => f.path);
    expect(asking).toEqual(['controlplane/access/secret-references.ts']);
    // Sealed secret values (`secret:<id>` bound as associated data) are opened in one module...
    const opening = files.filter((f) => /open\([^)]*`secret:/.test(f.text)).map((f) => f.path);
    expect(opening).toEqual(['controlplane/operations/secrets.ts']);
    const secrets = files.find((f) => f.path === 'controlplane/operations/secrets.ts')!.text;
    expect(secrets.match(/open\(/g)).toHaveLength(1);
    // ...in one function, which asks first.
    const body = secrets.slice(secrets.indexOf('export async function referSecret('));
    const fn = body.slice(0, body.indexOf('\n}\n'));
    expect(fn.indexOf('authorizeSecretReference(')).toBeGreaterThan(0);
    expect(fn.indexOf('authorizeSecretReference(')).toBeLessThan(fn.indexOf('open('));
    // The paths that persist a reference without reading the value ask the same question.
    const callers = files.filter((f) => f.text.includes('authorizeSecretReference(')).map((f) => f.path);
    expect(callers.sort()).toEqual([
      'controlplane/access/secret-references.ts',
      'controlplane/operations/catalog.ts',
      'controlplane/operations/secrets.ts',
    ]);
    const readers = files.filter((f) => f.text.includes('referSecret(')).map((f) => f.path);
    expect(readers.sort()).toEqual(['controlplane/operations/deployments.ts', 'controlplane/operations/secrets.ts']);
  });
});
