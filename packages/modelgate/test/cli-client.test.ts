import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCliToEnd, tempDir } from './helpers/node-process.js';

/**
 * The CLI as a management-API client: where it finds its endpoint and credential, how it maps
 * failures to messages and exit codes, and its two output formats. Real child processes of the
 * built bin (`npm run build` first) against a scripted local HTTP server.
 */

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

interface Scripted {
  status: number;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
}

let server: Server;
let endpoint: string;
let seen: Seen[] = [];
let answer: (req: Seen) => Scripted;

const DEPLOYMENT = {
  name: 'demo',
  infrastructure: 'default',
  service: 'demo',
  version: '1',
  upstream: 'http://127.0.0.1:9000',
  access: 'protected',
  enabled: true,
  revision: 3,
  auth: { basic_secret: null, api_keys: true, forward_credential: false },
  auth_source: 'version',
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-02T00:00:00.000Z',
};

const FLAG_TOKEN = 'mgt_flagTokenFlagTokenFlagToken0000';
const ENV_TOKEN = 'mgt_envTokenEnvTokenEnvTokenEnv00000';
const FILE_TOKEN = 'mgm_fileTokenFileTokenFileToken00000';

function errorBody(code: string, message: string, details?: string[]) {
  return { error: { code, message, request_id: 'req-1', ...(details ? { details } : {}) } };
}

/** Runs the CLI to completion with stdout and stderr kept apart. */
async function cli(args: string[], options: { cwd?: string; env?: Record<string, string>; stdin?: string } = {}) {
  return runCliToEnd(args, options);
}

/** A working directory holding a key_file.json with a management key. */
function dirWithKeyFile(content: unknown = { management: { key: FILE_TOKEN, 'expiration time': 'x' } }): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'key_file.json'), typeof content === 'string' ? content : JSON.stringify(content), {
    mode: 0o600,
  });
  return dir;
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      const out = answer(entry);
      if (out.raw !== undefined) {
        res.writeHead(out.status, { 'content-type': 'text/html' }).end(out.raw);
      } else if (out.body === undefined) {
        res.writeHead(out.status, out.headers ?? {}).end();
      } else {
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body));
      }
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((res) => server.close(res));
});

beforeEach(() => {
  seen = [];
  answer = () => ({ status: 200, body: { deployments: [DEPLOYMENT] } });
});

describe('credential precedence: --api-token > MODELGATE_API_TOKEN > ./key_file.json', () => {
  it('the flag wins over the environment and the key file', async () => {
    const r = await cli(['deployments', 'list', '--endpoint', endpoint, '--api-token', FLAG_TOKEN], {
      cwd: dirWithKeyFile(),
      env: { MODELGATE_API_TOKEN: ENV_TOKEN },
    });
    expect(r.code).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${FLAG_TOKEN}`);
  });

  it('the environment wins over the key file', async () => {
    const r = await cli(['deployments', 'list', '--endpoint', endpoint], {
      cwd: dirWithKeyFile(),
      env: { MODELGATE_API_TOKEN: ENV_TOKEN },
    });
    expect(r.code).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${ENV_TOKEN}`);
  });

  it('the management key of ./key_file.json is the last resort', async () => {
    const r = await cli(['deployments', 'list', '--endpoint', endpoint], { cwd: dirWithKeyFile() });
    expect(r.code).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${FILE_TOKEN}`);
  });

  it.each([
    ['not JSON', '{"management": '],
    ['no management key', { inference: { key: 'mgi_x' } }],
    ['a key that is not a string', { management: { key: 42 } }],
  ])('a key file with %s is ignored: the request goes out without a credential', async (_, content) => {
    const r = await cli(['deployments', 'list', '--endpoint', endpoint], { cwd: dirWithKeyFile(content) });
    expect(r.code).toBe(0);
    expect(seen[0]?.authorization).toBeUndefined();
  });

  it('no credential anywhere and the API answers 401: a clear error naming where to get one, exit 1', async () => {
    answer = () => ({ status: 401, body: errorBody('CREDENTIAL_MISSING', 'A credential is required') });
    const r = await cli(['deployments', 'list', '--endpoint', endpoint]);
    expect(r.code).toBe(1);
    expect(seen[0]?.authorization).toBeUndefined();
    expect(r.stderr).toContain('error [CLI_NO_CREDENTIAL]: A credential is required (HTTP 401)');
    expect(r.stderr).toContain('modelgate login');
    expect(r.stderr).toContain('MODELGATE_API_TOKEN');
    expect(r.stderr).toContain('key_file.json');
    expect(r.stdout).toBe('');
  });

  it('a refused credential is never printed, even if the server echoes it; the message names its source', async () => {
    answer = (req) => ({
      status: 401,
      body: errorBody('CREDENTIAL_UNKNOWN', `The credential ${req.authorization} is not valid`),
    });
    for (const [options, source] of [
      [{ env: { MODELGATE_API_TOKEN: ENV_TOKEN } }, 'MODELGATE_API_TOKEN'],
      [{ cwd: dirWithKeyFile() }, 'key_file.json'],
    ] as const) {
      const r = await cli(['deployments', 'list', '--endpoint', endpoint, '-o', 'json'], options);
      expect(r.code).toBe(1);
      // -o json: the failure is one JSON object on stderr.
      const { error } = JSON.parse(r.stderr) as { error: { code: string; status: number; message: string } };
      expect(error).toMatchObject({ code: 'CREDENTIAL_UNKNOWN', status: 401 });
      expect(error.message).toContain(
        `credential from ${source === 'key_file.json' ? 'the management key in ./' : ''}${source}`,
      );
      expect(r.all).not.toContain(ENV_TOKEN);
      expect(r.all).not.toContain(FILE_TOKEN);
      expect(r.all).toContain('[redacted]');
    }
  });

  it('an expired key from key_file.json says how to renew it', async () => {
    answer = () => ({ status: 401, body: errorBody('CREDENTIAL_EXPIRED', 'The credential has expired') });
    const r = await cli(['deployments', 'list', '--endpoint', endpoint], { cwd: dirWithKeyFile() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${endpoint}/token?type=management`);
    expect(r.stderr).toContain('modelgate token renew --type management');
    expect(r.all).not.toContain(FILE_TOKEN);
  });

  it('an empty --api-token is a usage error (exit 2); an empty MODELGATE_API_TOKEN counts as unset', async () => {
    const flag = await cli(['deployments', 'list', '--endpoint', endpoint, '--api-token', '']);
    expect(flag.code).toBe(2);
    expect(seen).toHaveLength(0);
    const env = await cli(['deployments', 'list', '--endpoint', endpoint], {
      cwd: dirWithKeyFile(),
      env: { MODELGATE_API_TOKEN: '' },
    });
    expect(env.code).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${FILE_TOKEN}`);
  });

  it('the credential is not printed when the endpoint cannot be reached', async () => {
    const r = await cli(['deployments', 'list', '--endpoint', 'http://127.0.0.1:1', '--api-token', FLAG_TOKEN]);
    expect(r.code).toBe(1);
    expect(r.all).not.toContain(FLAG_TOKEN);
  });
});

const CONTEXT_TOKEN = 'mgt_contextTokenContextTokenCont0000';

/** An XDG_CONFIG_HOME whose contexts.json has a current context for `contextEndpoint`. */
function loggedIn(contextEndpoint: string): Record<string, string> {
  const xdg = tempDir('modelgate-xdg-');
  mkdirSync(join(xdg, 'modelgate'), { mode: 0o700 });
  const file = {
    current_context: 'here',
    contexts: [{ name: 'here', endpoint: contextEndpoint, api_token: CONTEXT_TOKEN }],
  };
  writeFileSync(join(xdg, 'modelgate', 'contexts.json'), JSON.stringify(file), { mode: 0o600 });
  return { XDG_CONFIG_HOME: xdg };
}

describe('the current login context: third credential, and an endpoint', () => {
  it('without flags it gives the endpoint and the token, winning over ./key_file.json', async () => {
    const r = await cli(['deployments', 'list'], { cwd: dirWithKeyFile(), env: loggedIn(endpoint) });
    expect(r.code, r.all).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${CONTEXT_TOKEN}`);
  });

  it('--api-token and MODELGATE_API_TOKEN win over it', async () => {
    await cli(['deployments', 'list', '--api-token', FLAG_TOKEN], { env: loggedIn(endpoint) });
    await cli(['deployments', 'list'], { env: { ...loggedIn(endpoint), MODELGATE_API_TOKEN: ENV_TOKEN } });
    expect(seen.map((s) => s.authorization)).toEqual([`Bearer ${FLAG_TOKEN}`, `Bearer ${ENV_TOKEN}`]);
  });

  it('its token never goes to another endpoint: --endpoint or MODELGATE_ENDPOINT elsewhere falls back to the key file', async () => {
    const elsewhere = loggedIn('http://127.0.0.1:9');
    await cli(['deployments', 'list', '--endpoint', endpoint], { cwd: dirWithKeyFile(), env: elsewhere });
    await cli(['deployments', 'list'], { env: { ...elsewhere, MODELGATE_ENDPOINT: endpoint } });
    expect(seen.map((s) => s.authorization)).toEqual([`Bearer ${FILE_TOKEN}`, undefined]);
  });
});

describe('endpoint precedence: --endpoint > MODELGATE_ENDPOINT > http://127.0.0.1:8081', () => {
  it('the flag wins over the environment', async () => {
    const r = await cli(['deployments', 'list', '--endpoint', endpoint], {
      env: { MODELGATE_ENDPOINT: 'http://127.0.0.1:1' },
    });
    expect(r.code).toBe(0);
    expect(seen).toHaveLength(1);
  });

  it('the environment is used without the flag, and a trailing slash is fine', async () => {
    const r = await cli(['deployments', 'list'], { env: { MODELGATE_ENDPOINT: `${endpoint}/` } });
    expect(r.code).toBe(0);
    expect(seen[0]?.url).toBe('/api/v1/deployments');
  });

  it('without either, the CLI calls http://127.0.0.1:8081', async () => {
    const r = await cli(['deployments', 'list']);
    // Nothing of ours listens there in tests; the message names the default endpoint either way.
    if (r.code !== 0) expect(r.stderr).toContain('http://127.0.0.1:8081');
    expect(seen).toHaveLength(0);
  });

  it.each([
    ['not a URL', 'localhost:8081'],
    ['not http', 'ftp://127.0.0.1:8081'],
  ])('an endpoint that is %s is a usage error (exit 2)', async (_, bad) => {
    const r = await cli(['deployments', 'list', '--endpoint', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[CLI_USAGE]');
  });

  it('an endpoint carrying a password is refused without echoing it', async () => {
    const r = await cli(['deployments', 'list', '--endpoint', 'http://admin:hunter2secret@127.0.0.1:8081']);
    expect(r.code).toBe(2);
    expect(r.all).not.toContain('hunter2secret');
    expect(r.stderr).toContain('--api-token');
  });
});

describe('failures: exit 1 with the API error code, the one code of the line', () => {
  it.each([
    [401, 'CREDENTIAL_UNKNOWN', 'The credential is not valid'],
    [403, 'FORBIDDEN', 'The credential does not grant access to this resource'],
    [404, 'RESOURCE_NOT_FOUND', 'No deployment named "nope"'],
    [409, 'RESOURCE_CONFLICT', 'A deployment named "demo" already exists'],
  ])('%i %s', async (status, code, message) => {
    answer = () => ({ status, body: errorBody(code, message) });
    const r = await cli(['deployments', 'show', 'nope', '--endpoint', endpoint, '--api-token', FLAG_TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error [${code}]: ${message} (HTTP ${status})`);
    expect(r.stderr).not.toContain('CLI_REQUEST_FAILED');
    expect(r.stdout).toBe('');
  });

  it('validation details are shown', async () => {
    answer = () => ({
      status: 400,
      body: errorBody('VALIDATION_FAILED', 'The request failed validation', ['upstream must be an http(s) URL']),
    });
    const r = await cli(['deploy', 'demo', '--upstream', 'x', '--endpoint', endpoint, '--api-token', FLAG_TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error [VALIDATION_FAILED]: The request failed validation (upstream must be an http(s) URL) (HTTP 400)',
    );
  });

  it('an unknown route hints at a node older than the CLI', async () => {
    answer = () => ({ status: 404, body: errorBody('ROUTE_NOT_FOUND', 'No such route') });
    const r = await cli(['deployments', 'list', '--endpoint', endpoint]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [ROUTE_NOT_FOUND]');
  });

  it('a non-JSON error page still gives the status', async () => {
    answer = () => ({ status: 502, raw: '<html>Bad Gateway</html>' });
    const r = await cli(['deployments', 'list', '--endpoint', endpoint]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error \[CLI_REQUEST_FAILED\]: the server answered without a modelgate error body \(HTTP 502\)$/m,
    );
  });

  it('a redirect is not followed: the credential never reaches where the server points', async () => {
    // The redirect points at this same scripted server, under a path only a follower would ask.
    answer = (req) =>
      req.url.startsWith('/elsewhere')
        ? { status: 200, body: { deployments: [] } }
        : { status: 307, headers: { location: `${endpoint}/elsewhere/api/v1/deployments` } };
    const r = await cli(['deployments', 'list', '--endpoint', endpoint, '--api-token', FLAG_TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[CLI_REQUEST_FAILED\]: .*answered a redirect \(HTTP 307\)/m);
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/deployments']);
    expect(r.stderr).not.toContain(FLAG_TOKEN);
  });

  it('a list whose server repeats a cursor fails loudly instead of printing a short list (as the SDK does)', async () => {
    answer = () => ({ status: 200, body: { deployments: [DEPLOYMENT], next_cursor: 'again' } });
    const r = await cli(['deployments', 'list', '--endpoint', endpoint, '--api-token', FLAG_TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[CLI_REQUEST_FAILED\]: .*next_cursor it had already given/m);
    expect(r.stdout).toBe('');
    // The first page, then the page of the cursor; the repeat is caught before a third request.
    expect(seen.map((s) => s.url)).toEqual(['/api/v1/deployments', '/api/v1/deployments?cursor=again']);
  });

  it('connection refused: exit 1 and a hint to run `modelgate start` at the endpoint', async () => {
    const probe = createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
    const closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((res) => probe.close(res));
    const r = await cli(['deployments', 'list', '--endpoint', closed]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ECONNREFUSED');
    expect(r.stderr).toContain(`is \`modelgate start\` running at ${closed}?`);
    expect(r.stderr).toContain('[CLI_REQUEST_FAILED]');
  });
});

describe('output', () => {
  it('--output json prints a list as {"items":[...]}; the default is a table', async () => {
    const json = await cli(['deployments', 'list', '--endpoint', endpoint, '--output', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ items: [DEPLOYMENT] });

    const table = await cli(['deployments', 'list', '--endpoint', endpoint]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ACCESS\s+ENABLED\s+REVISION\s+UPSTREAM\s+SERVICE\s+INFRASTRUCTURE$/);
    expect(lines[1]).toMatch(/^demo\s+protected\s+yes\s+3\s+http:\/\/127\.0\.0\.1:9000\s+demo@1\s+default$/);
  });

  it('-o is the short form', async () => {
    answer = () => ({ status: 200, body: DEPLOYMENT });
    const r = await cli(['deployments', 'show', 'demo', '--endpoint', endpoint, '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(DEPLOYMENT);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/v1/deployments/demo' });
  });
});

describe('usage errors exit 2 and send nothing', () => {
  it.each([
    ['an unknown output format', ['deployments', 'list', '-o', 'yaml']],
    ['a missing --upstream', ['deploy', 'demo']],
    ['a bad --access', ['deploy', 'demo', '--upstream', 'http://u', '--access', 'open']],
    ['--api-keys 0', ['deploy', 'demo', '--upstream', 'http://u', '--api-keys', '0']],
    ['--api-keys not a number', ['deploy', 'demo', '--upstream', 'http://u', '--api-keys', 'two']],
    ['a missing name', ['deployments', 'show']],
    ['an extra argument', ['deployments', 'show', 'a', 'b']],
    ['an unknown option', ['deployments', 'list', '--frobnicate']],
    ['secrets create without a value', ['secrets', 'create', 's']],
    ['secrets create with --value and --generate', ['secrets', 'create', 's', '--value', 'v', '--generate']],
    ['secrets update without a value', ['secrets', 'update', 's']],
    ['secrets create --value - with nothing on stdin', ['secrets', 'create', 's', '--value', '-']],
    ['api-keys create without an owner', ['api-keys', 'create']],
    ['api-keys create with --service only', ['api-keys', 'create', '--service', 's']],
    [
      'api-keys create with two owners',
      ['api-keys', 'create', '--deployment', 'd', '--service', 's', '--version', '1'],
    ],
    ['api-keys create --count 0', ['api-keys', 'create', '--deployment', 'd', '--count', '0']],
    ['api-keys list with --version only', ['api-keys', 'list', '--version', '1']],
  ])('%s', async (_, args) => {
    const r = await cli([...args, '--endpoint', endpoint]);
    expect(r.code, r.all).toBe(2);
    expect(seen).toHaveLength(0);
    expect(r.stdout).toBe('');
  });
});

describe('secrets create --value -', () => {
  it('reads the value from stdin, without the trailing newline', async () => {
    answer = () => ({
      status: 201,
      body: { secret: { name: 'hf', created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z' } },
    });
    const r = await cli(['secrets', 'create', 'hf', '--value', '-', '--endpoint', endpoint], {
      stdin: 'pa ss\nword-from-stdin\n',
    });
    expect(r.code).toBe(0);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/api/v1/secrets', contentType: 'application/json' });
    expect(JSON.parse(seen[0]!.body)).toEqual({ name: 'hf', value: 'pa ss\nword-from-stdin' });
    expect(r.all).not.toContain('word-from-stdin');
    expect(r.stdout).toContain('Created secret hf');
  });

  it('--help documents it', async () => {
    const r = await cli(['secrets', 'create', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"-" reads it from stdin/);
  });
});
