import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliToEnd } from './helpers/node-process.js';

/**
 * Every management-API command of the CLI (deploy, redeploy, deployments, secrets, api-keys)
 * as a real child process against a small in-memory fake of the `/api/v1` contract. The fake
 * refuses any body field the contract does not name, so these tests pin what the CLI sends.
 * test/cli-e2e.test.ts runs the same commands against the real node.
 */

const TOKEN = 'mgt_commandsTestTokenCommandsTest000';

interface Logged {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

let server: Server;
let endpoint: string;
const log: Logged[] = [];

// ---------------------------------------------------------------------------------------------
// The fake management API.

type Json = Record<string, unknown>;

interface Deployment {
  name: string;
  infrastructure: string;
  service: string;
  version: string;
  upstream: string;
  access: 'public' | 'protected';
  enabled: boolean;
  revision: number;
  auth: { basic_secret: string | null; api_keys: boolean; forward_credential: boolean };
  auth_source: 'version' | 'override';
  created_at: string;
  updated_at: string;
}

interface ApiKey {
  id: string;
  prefix: string;
  key: string;
  description: string;
  deployment?: string;
  service?: string;
  version?: string;
  created_at: string;
  requests: number;
  last_used_at: string | null;
}

const deployments = new Map<string, Deployment>();
const secrets = new Map<string, { name: string; value: string; created_at: string; updated_at: string }>();
const apiKeys = new Map<string, ApiKey>();
const services = new Set<string>();
const infrastructures = new Set<string>();
let seq = 0;
const now = () => new Date(Date.UTC(2025, 0, 1, 0, 0, seq++)).toISOString();

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: string[],
  ) {
    super(message);
  }
}

function invalid(...details: string[]): never {
  throw new HttpError(400, 'VALIDATION_FAILED', 'The request failed validation', details);
}

/** Only the named fields, with the given types; `?` marks optional ones. */
function checkShape(body: unknown, shape: Record<string, string>): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) invalid('/ must be an object');
  const b = body as Json;
  for (const key of Object.keys(b)) if (!(key in shape) && !(`${key}?` in shape)) invalid(`/${key} is not allowed`);
  for (const [spec, type] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const key = optional ? spec.slice(0, -1) : spec;
    if (!(key in b)) {
      if (!optional) invalid(`/${key} is required`);
      continue;
    }
    const types = type.split('|');
    const value = b[key];
    const actual = value === null ? 'null' : Number.isInteger(value) ? 'integer' : typeof value;
    if (!types.includes(actual) && !(types.includes('true') && value === true)) invalid(`/${key} must be ${type}`);
  }
  return b;
}

function generated(kind: string): string {
  return `mg${kind}_${Math.random().toString(36).slice(2).padEnd(12, '0')}${String(seq++).padStart(4, '0')}`;
}

function newKeys(
  owner: { deployment: string } | { service: string; version: string },
  count: number,
  description = '',
) {
  return Array.from({ length: count }, () => {
    const key = generated('k');
    const k: ApiKey = {
      id: `key_${seq++}`,
      prefix: key.slice(0, 8),
      key,
      description,
      ...owner,
      created_at: now(),
      requests: 0,
      last_used_at: null,
    };
    apiKeys.set(k.id, k);
    return k;
  });
}

const withoutKey = ({ key: _key, ...info }: ApiKey) => info;

function deployment(name: string): Deployment {
  const d = deployments.get(name);
  if (!d) throw new HttpError(404, 'RESOURCE_NOT_FOUND', `No deployment named "${name}"`);
  return d;
}

function route(method: string, path: string, query: Record<string, string>, body: unknown): [number, unknown] {
  const parts = path.split('/').slice(3).map(decodeURIComponent); // '', 'api', 'v1', ...
  const [resource, id, action] = parts;
  if (resource === 'deployments') {
    if (method === 'GET' && id === undefined) return [200, { deployments: [...deployments.values()] }];
    if (method === 'POST' && id === undefined) {
      const b = checkShape(body, {
        name: 'string',
        upstream: 'string',
        'access?': 'string',
        'infrastructure?': 'string',
        'service?': 'string',
        'version?': 'string',
        'auth?': 'object',
        'api_keys?': 'integer',
      });
      const auth =
        b.auth === undefined
          ? undefined
          : checkShape(b.auth, {
              basic_secret: 'string|null',
              api_keys: 'true',
              forward_credential: 'boolean',
            });
      if (b.access !== undefined && b.access !== 'public' && b.access !== 'protected')
        invalid('/access must be public or protected');
      const name = b.name as string;
      if (deployments.has(name))
        throw new HttpError(409, 'RESOURCE_CONFLICT', `A deployment named "${name}" already exists`);
      const created: string[] = [];
      const infrastructure = (b.infrastructure as string | undefined) ?? 'default';
      const service = (b.service as string | undefined) ?? name;
      const version = (b.version as string | undefined) ?? '1';
      if (!infrastructures.has(infrastructure)) created.push(`infrastructure ${infrastructure}`);
      infrastructures.add(infrastructure);
      if (!services.has(`${service}/${version}`)) created.push(`service ${service}`, `version ${service}@${version}`);
      services.add(`${service}/${version}`);
      let generated_secret: { name: string; value: string } | undefined;
      const secretName = auth?.basic_secret as string | null | undefined;
      if (secretName && !secrets.has(secretName)) {
        generated_secret = { name: secretName, value: generated('s') };
        secrets.set(secretName, { ...generated_secret, created_at: now(), updated_at: now() });
        created.push(`secret ${secretName}`);
      }
      const t = now();
      const d: Deployment = {
        name,
        infrastructure,
        service,
        version,
        upstream: b.upstream as string,
        access: (b.access as Deployment['access'] | undefined) ?? 'protected',
        enabled: true,
        revision: 1,
        auth: auth
          ? { basic_secret: secretName ?? null, api_keys: true, forward_credential: auth.forward_credential as boolean }
          : { basic_secret: null, api_keys: true, forward_credential: false },
        auth_source: auth ? 'override' : 'version',
        created_at: t,
        updated_at: t,
      };
      deployments.set(name, d);
      const keys = b.api_keys ? newKeys({ deployment: name }, b.api_keys as number) : undefined;
      return [
        201,
        {
          deployment: d,
          created,
          ...(generated_secret ? { generated_secret } : {}),
          ...(keys ? { api_keys: keys } : {}),
        },
      ];
    }
    if (id === undefined) throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'Method not allowed on this route');
    const d = deployment(id);
    if (action === undefined && method === 'GET') return [200, d];
    if (action === undefined && method === 'DELETE') {
      deployments.delete(id);
      return [204, undefined];
    }
    if (method === 'POST' && body !== undefined) invalid('/ this route takes no body');
    if (method === 'POST' && action === 'redeploy') {
      Object.assign(d, { revision: d.revision + 1, updated_at: now() });
      return [200, d];
    }
    if (method === 'POST' && (action === 'enable' || action === 'disable')) {
      Object.assign(d, { enabled: action === 'enable', updated_at: now() });
      return [200, d];
    }
  }
  if (resource === 'secrets') {
    const info = (s: { name: string; created_at: string; updated_at: string }) => ({
      name: s.name,
      created_at: s.created_at,
      updated_at: s.updated_at,
    });
    if (method === 'GET' && id === undefined) return [200, { secrets: [...secrets.values()].map(info) }];
    if ((method === 'POST' && id === undefined) || (method === 'PUT' && id !== undefined && action === undefined)) {
      const b =
        method === 'POST'
          ? checkShape(body, { name: 'string', 'value?': 'string', 'generate?': 'true' })
          : checkShape(body, { 'value?': 'string', 'generate?': 'true' });
      if ((b.value === undefined) === (b.generate === undefined))
        invalid('give exactly one of value or generate: true');
      const name = method === 'POST' ? (b.name as string) : (id as string);
      const existing = secrets.get(name);
      if (method === 'POST' && existing)
        throw new HttpError(409, 'RESOURCE_CONFLICT', `A secret named "${name}" exists`);
      if (method === 'PUT' && !existing) throw new HttpError(404, 'RESOURCE_NOT_FOUND', `No secret named "${name}"`);
      const value = b.generate ? generated('s') : (b.value as string);
      const t = now();
      const s = { name, value, created_at: existing?.created_at ?? t, updated_at: t };
      secrets.set(name, s);
      return [method === 'POST' ? 201 : 200, { secret: info(s), ...(b.generate ? { value } : {}) }];
    }
    if (method === 'DELETE' && id !== undefined) {
      if (!secrets.delete(id)) throw new HttpError(404, 'RESOURCE_NOT_FOUND', `No secret named "${id}"`);
      return [204, undefined];
    }
  }
  if (resource === 'api-keys') {
    if (method === 'POST' && id === undefined) {
      const b = checkShape(body, {
        'deployment?': 'string',
        'service?': 'string',
        'version?': 'string',
        'count?': 'integer',
        'description?': 'string',
      });
      const owner =
        b.deployment !== undefined
          ? { deployment: b.deployment as string }
          : { service: b.service as string, version: b.version as string };
      if ('deployment' in owner) deployment(owner.deployment as string);
      return [
        201,
        { api_keys: newKeys(owner, (b.count as number | undefined) ?? 1, (b.description as string | undefined) ?? '') },
      ];
    }
    if (method === 'GET' && id === undefined) {
      checkShape(query, { 'deployment?': 'string', 'service?': 'string', 'version?': 'string' });
      const keys = [...apiKeys.values()].filter(
        (k) =>
          (query.deployment === undefined || k.deployment === query.deployment) &&
          (query.service === undefined || (k.service === query.service && k.version === query.version)),
      );
      return [200, { api_keys: keys.map(withoutKey) }];
    }
    const k = id === undefined ? undefined : apiKeys.get(id);
    if (!k) throw new HttpError(404, 'RESOURCE_NOT_FOUND', `No API key "${id}"`);
    if (method === 'GET' && action === 'reveal') return [200, k];
    if (method === 'DELETE' && action === undefined) {
      apiKeys.delete(k.id);
      return [204, undefined];
    }
  }
  throw new HttpError(404, 'ROUTE_NOT_FOUND', 'No such route');
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, payload: unknown) => {
      if (payload === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    try {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        throw new HttpError(401, 'CREDENTIAL_MISSING', 'A credential is required');
      }
      if (text !== '' && req.headers['content-type'] !== 'application/json') {
        throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported content type');
      }
      const body = text === '' ? undefined : JSON.parse(text);
      const query = Object.fromEntries(url.searchParams);
      log.push({ method: req.method ?? '', path: url.pathname, query, body });
      const [status, payload] = route(req.method ?? '', url.pathname, query, body);
      send(status, payload);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'INTERNAL', 'Internal error');
      send(e.status, {
        error: { code: e.code, message: e.message, request_id: 'fake', ...(e.details ? { details: e.details } : {}) },
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------

async function cli(args: string[], options: { stdin?: string } = {}) {
  return runCliToEnd([...args, '--endpoint', endpoint], { env: { MODELGATE_API_TOKEN: TOKEN }, ...options });
}

const last = () => log[log.length - 1]!;

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((res) => server.close(res));
});

describe('deploy and redeploy', () => {
  it('deploy with every flag sends the contract body and shows what was created, secrets and keys marked "shown once"', async () => {
    const r = await cli([
      'deploy',
      'sentiment',
      '--upstream',
      'http://127.0.0.1:9000',
      '--access',
      'protected',
      '--basic-secret',
      'sentiment-basic',
      '--generate-secret',
      '--api-keys',
      '2',
      '--infrastructure',
      'prod',
      '--service',
      'nlp',
      '--version',
      '7',
      '--forward-credential',
    ]);
    expect(r.code, r.all).toBe(0);
    expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/deployments' });
    expect(last().body).toEqual({
      name: 'sentiment',
      upstream: 'http://127.0.0.1:9000',
      access: 'protected',
      infrastructure: 'prod',
      service: 'nlp',
      version: '7',
      auth: { basic_secret: 'sentiment-basic', api_keys: true, forward_credential: true },
      api_keys: 2,
    });
    expect(r.stdout).toContain('Deployed sentiment (revision 1), served at /sentiment/');
    expect(r.stdout).toMatch(/^path:\s+\/sentiment\/$/m);
    expect(r.stdout).toMatch(/^access:\s+protected$/m);
    expect(r.stdout).toMatch(/^upstream:\s+http:\/\/127\.0\.0\.1:9000$/m);
    expect(r.stdout).toMatch(/^revision:\s+1$/m);
    expect(r.stdout).toContain('Created: infrastructure prod, service nlp, version nlp@7, secret sentiment-basic\n');
    const secret = secrets.get('sentiment-basic')!.value;
    expect(r.stdout).toMatch(/secret sentiment-basic.*shown once/);
    expect(r.stdout).toContain(secret);
    const keys = [...apiKeys.values()].filter((k) => k.deployment === 'sentiment');
    expect(keys).toHaveLength(2);
    expect(r.stdout).toMatch(/API keys, shown once/);
    for (const k of keys) expect(r.stdout).toMatch(new RegExp(`^${k.id}\\s+${k.key}$`, 'm'));
  });

  it('deploy with only the required flags sends only name and upstream; --output json prints the API answer', async () => {
    const r = await cli(['deploy', 'plain', '--upstream', 'http://127.0.0.1:9001', '-o', 'json']);
    expect(r.code, r.all).toBe(0);
    expect(last().body).toEqual({ name: 'plain', upstream: 'http://127.0.0.1:9001' });
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      deployment: deployments.get('plain'),
      created: ['infrastructure default', 'service plain', 'version plain@1'],
    });
  });

  it('--forward-credential alone sends auth with basic_secret null; --version alone is the version, not the program version', async () => {
    const r = await cli([
      'deploy',
      'fwd',
      '--upstream',
      'http://127.0.0.1:9002',
      '--forward-credential',
      '--version',
      '2',
    ]);
    expect(r.code, r.all).toBe(0);
    expect(last().body).toEqual({
      name: 'fwd',
      upstream: 'http://127.0.0.1:9002',
      version: '2',
      auth: { basic_secret: null, api_keys: true, forward_credential: true },
    });
    expect(r.stdout).not.toContain('shown once');
  });

  it('deploying a name twice is a 409: exit 1 with the code', async () => {
    const r = await cli(['deploy', 'plain', '--upstream', 'http://127.0.0.1:9001']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [RESOURCE_CONFLICT]: A deployment named "plain" already exists');
  });

  it('redeploy makes a new revision', async () => {
    const table = await cli(['redeploy', 'plain']);
    expect(table.code, table.all).toBe(0);
    expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/deployments/plain/redeploy', body: undefined });
    expect(table.stdout).toContain('Redeployed plain: revision 2 is live');
    const json = await cli(['redeploy', 'plain', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'plain', revision: 3 });
  });
});

describe('deployments', () => {
  it('list (table and json) and show', async () => {
    const table = await cli(['deployments', 'list']);
    expect(table.code, table.all).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+ACCESS\s+ENABLED\s+REVISION\s+UPSTREAM\s+SERVICE\s+INFRASTRUCTURE$/m);
    expect(table.stdout).toMatch(/^sentiment\s+protected\s+yes\s+1\s+http:\/\/127\.0\.0\.1:9000\s+nlp@7\s+prod$/m);
    expect(table.stdout).toMatch(/^plain\s+protected\s+yes\s+3\s+/m);

    const json = await cli(['deployments', 'list', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({ items: [...deployments.values()] });

    const show = await cli(['deployments', 'show', 'sentiment']);
    expect(show.code, show.all).toBe(0);
    expect(last()).toMatchObject({ method: 'GET', path: '/api/v1/deployments/sentiment' });
    expect(show.stdout).toMatch(/^service:\s+nlp version 7$/m);
    expect(show.stdout).toMatch(/^auth:\s+Basic \(secret sentiment-basic\), API keys.*credential forwarded upstream/m);
  });

  it('disable, enable, delete; then show is a 404', async () => {
    const disabled = await cli(['deployments', 'disable', 'plain']);
    expect(disabled.code, disabled.all).toBe(0);
    expect(last()).toMatchObject({ method: 'POST', path: '/api/v1/deployments/plain/disable', body: undefined });
    expect(deployments.get('plain')?.enabled).toBe(false);
    expect(disabled.stdout).toContain('Deployment plain disabled');

    const enabled = await cli(['deployments', 'enable', 'plain', '-o', 'json']);
    expect(JSON.parse(enabled.stdout)).toMatchObject({ name: 'plain', enabled: true });

    const deleted = await cli(['deployments', 'delete', 'plain']);
    expect(deleted.code, deleted.all).toBe(0);
    expect(last()).toMatchObject({ method: 'DELETE', path: '/api/v1/deployments/plain' });
    expect(deleted.stdout).toBe('Deleted deployment plain\n');

    const gone = await cli(['deployments', 'show', 'plain']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('error [RESOURCE_NOT_FOUND]: No deployment named "plain"');
  });
});

describe('secrets', () => {
  it('create with --value sends it and prints no value; with --generate prints the value once, marked', async () => {
    const given = await cli(['secrets', 'create', 'given', '--value', 's3cret-value']);
    expect(given.code, given.all).toBe(0);
    expect(last()).toMatchObject({
      method: 'POST',
      path: '/api/v1/secrets',
      body: { name: 'given', value: 's3cret-value' },
    });
    expect(given.stdout).toBe('Created secret given\n');

    const gen = await cli(['secrets', 'create', 'made', '--generate']);
    expect(gen.code, gen.all).toBe(0);
    expect(last().body).toEqual({ name: 'made', generate: true });
    const value = secrets.get('made')!.value;
    expect(gen.stdout).toMatch(/shown once/);
    expect(gen.stdout).toMatch(new RegExp(`^${value}$`, 'm'));

    const json = await cli(['secrets', 'create', 'made-json', '--generate', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual({
      secret: { name: 'made-json', created_at: expect.any(String), updated_at: expect.any(String) },
      value: secrets.get('made-json')!.value,
    });
  });

  it('update sends PUT with the value and reminds that deployments keep the old value until redeploy', async () => {
    const r = await cli(['secrets', 'update', 'given', '--value', '-'], { stdin: 'new-value\n' });
    expect(r.code, r.all).toBe(0);
    expect(log.findLast((l) => l.method === 'PUT')).toMatchObject({
      path: '/api/v1/secrets/given',
      body: { value: 'new-value' },
    });
    expect(r.stdout).toContain('Updated secret given.');
    expect(r.stdout).toContain('No deployment uses secret given yet.');
    expect(r.all).not.toContain('new-value');

    const gen = await cli(['secrets', 'update', 'sentiment-basic', '--generate', '-o', 'json']);
    expect(gen.code, gen.all).toBe(0);
    const put = log.findLast((l) => l.method === 'PUT')!;
    expect(put).toMatchObject({ path: '/api/v1/secrets/sentiment-basic', body: { generate: true } });
    expect(JSON.parse(gen.stdout)).toMatchObject({
      secret: { name: 'sentiment-basic' },
      value: secrets.get('sentiment-basic')!.value,
    });
    expect(gen.stderr).toContain('keep its old value until they are redeployed');
    expect(gen.stderr).toMatch(/^ {2}modelgate redeploy sentiment$/m);

    const missing = await cli(['secrets', 'update', 'nope', '--value', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error [RESOURCE_NOT_FOUND]');
  });

  it('list shows names and dates, never values; delete', async () => {
    const table = await cli(['secrets', 'list']);
    expect(table.code, table.all).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+CREATED\s+UPDATED$/m);
    expect(table.stdout).toMatch(/^given\s+\S+\s+\S+$/m);
    for (const s of secrets.values()) expect(table.stdout).not.toContain(s.value);

    const json = await cli(['secrets', 'list', '-o', 'json']);
    const listed = JSON.parse(json.stdout) as { items: Json[] };
    expect(listed.items.map((s) => s.name)).toContain('made');

    const deleted = await cli(['secrets', 'delete', 'made']);
    expect(deleted.code, deleted.all).toBe(0);
    expect(last()).toMatchObject({ method: 'DELETE', path: '/api/v1/secrets/made' });
    expect(secrets.has('made')).toBe(false);
  });
});

describe('api-keys', () => {
  it('create for a deployment and for a service version, with count and description', async () => {
    const forDeployment = await cli(['api-keys', 'create', '--deployment', 'sentiment', '--description', 'ci']);
    expect(forDeployment.code, forDeployment.all).toBe(0);
    expect(last().body).toEqual({ deployment: 'sentiment', description: 'ci' });
    const made = [...apiKeys.values()].find((k) => k.description === 'ci')!;
    // The key alone on stdout; what it is on stderr.
    expect(forDeployment.stdout).toBe(`${made.key}\n`);
    expect(forDeployment.stderr).toContain(`Created 1 API key for deployment sentiment (${made.id}), printed once`);

    const forVersion = await cli([
      'api-keys',
      'create',
      '--service',
      'nlp',
      '--version',
      '7',
      '--count',
      '3',
      '-o',
      'json',
    ]);
    expect(forVersion.code, forVersion.all).toBe(0);
    expect(last().body).toEqual({ service: 'nlp', version: '7', count: 3 });
    const out = JSON.parse(forVersion.stdout) as { api_keys: ApiKey[] };
    expect(out.api_keys).toHaveLength(3);
    expect(out.api_keys[0]).toMatchObject({ service: 'nlp', version: '7', key: expect.any(String) });
  });

  it('list filters by owner in the query and shows prefixes, never keys', async () => {
    const byDeployment = await cli(['api-keys', 'list', '--deployment', 'sentiment']);
    expect(byDeployment.code, byDeployment.all).toBe(0);
    expect(last()).toMatchObject({ method: 'GET', path: '/api/v1/api-keys', query: { deployment: 'sentiment' } });
    expect(byDeployment.stdout).toMatch(
      /^ID\s+PREFIX\s+OWNER\s+DESCRIPTION\s+CREATED\s+STATE\s+REQUESTS\s+LAST USED$/m,
    );
    const mine = [...apiKeys.values()].filter((k) => k.deployment === 'sentiment');
    for (const k of mine) {
      expect(byDeployment.stdout).toMatch(
        new RegExp(`^${k.id}\\s+${k.prefix}\\.\\.\\.\\s+deployment:sentiment\\s`, 'm'),
      );
      expect(byDeployment.stdout).not.toContain(k.key);
    }

    const byVersion = await cli(['api-keys', 'list', '--service', 'nlp', '--version', '7', '-o', 'json']);
    expect(last().query).toEqual({ service: 'nlp', version: '7' });
    const listed = JSON.parse(byVersion.stdout) as { items: Json[] };
    expect(listed.items).toHaveLength(3);
    expect(listed.items.every((k) => !('key' in k))).toBe(true);

    const all = await cli(['api-keys', 'list', '-o', 'json']);
    expect(last().query).toEqual({});
    expect((JSON.parse(all.stdout) as { items: Json[] }).items).toHaveLength(apiKeys.size);
  });

  it('reveal prints the key alone (json: the object); delete; then reveal is a 404', async () => {
    const k = [...apiKeys.values()][0]!;
    const table = await cli(['api-keys', 'reveal', k.id]);
    expect(table.code, table.all).toBe(0);
    expect(last()).toMatchObject({ method: 'GET', path: `/api/v1/api-keys/${k.id}/reveal` });
    expect(table.stdout).toBe(`${k.key}\n`);
    const json = await cli(['api-keys', 'reveal', k.id, '-o', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(k);

    const deleted = await cli(['api-keys', 'delete', k.id]);
    expect(deleted.code, deleted.all).toBe(0);
    expect(last()).toMatchObject({ method: 'DELETE', path: `/api/v1/api-keys/${k.id}` });
    expect(deleted.stdout).toBe(`Deleted API key ${k.id}\n`);

    const gone = await cli(['api-keys', 'reveal', k.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('error [RESOURCE_NOT_FOUND]');
  });
});
