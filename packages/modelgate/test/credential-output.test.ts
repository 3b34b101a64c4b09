import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_ISSUE_EXAMPLES } from '../src/cli/commands/jwt.js';
import { TOKENS_CREATE_EXAMPLES } from '../src/cli/commands/tokens.js';
import { BIN, type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';

/**
 * Issue 22, item 3: a command that makes a credential prints the credential alone on stdout (so
 * `T=$(modelgate ...)` captures exactly it) and what to know about it on stderr; the examples in
 * `--help` run as written.
 */

let node: NodeProcess;
let session: string;
const PASSWORD = 'correct horse battery staple';

function cli(args: string[], options: { env?: Record<string, string>; stdin?: string } = {}) {
  return runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...options });
}

/** stdout is exactly one line, the credential. */
function onlyCredential(r: { code: number | string; stdout: string; all: string }, pattern: RegExp): string {
  expect(r.code, r.all).toBe(0);
  expect(r.stdout, r.all).toMatch(new RegExp(`^${pattern.source}\\n$`));
  return r.stdout.trim();
}

async function infer(token: string): Promise<number> {
  const res = await fetch(`${node.urls.inference}/demo/predictions/sentiment`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{"text":"fine"}',
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  node = await startNodeProcess(['--demo']);
  expect((await cli(['groups', 'create', 'admins', '--privilege', 'admin'])).code).toBe(0);
  expect((await cli(['users', 'create', 'alice', '--group', 'admins'], { stdin: PASSWORD })).code).toBe(0);
  session = (await cli(['sessions', 'create', '--username', 'alice'], { stdin: PASSWORD })).stdout.trim();
});

afterAll(async () => {
  await node?.stop();
});

describe('credential-making commands print only the credential on stdout', () => {
  it('jwt issue', async () => {
    const r = await cli(['jwt', 'issue', '--deployment', 'demo']);
    const token = onlyCredential(r, /[\w-]+\.[\w-]+\.[\w-]+/);
    expect(r.stderr).toMatch(/jti:/);
    expect(await infer(token)).toBe(200);
  });

  it('tokens create and tokens roll', async () => {
    const env = { MODELGATE_API_TOKEN: session };
    const made = await cli(['tokens', 'create', 'first', '--deployment', 'demo'], { env });
    const token = onlyCredential(made, /mgt_\w+/);
    expect(made.stderr).toContain('Shown once');
    expect(await infer(token)).toBe(200);
    const rolled = await cli(['tokens', 'roll', 'first', '--grace', '1h'], { env });
    expect(await infer(onlyCredential(rolled, /mgt_\w+/))).toBe(200);
  });

  it('api-keys create (one key a line) and api-keys roll', async () => {
    const made = await cli(['api-keys', 'create', '--deployment', 'demo', '--count', '2']);
    expect(made.code, made.all).toBe(0);
    expect(made.stdout).toMatch(/^mgk_\w+\nmgk_\w+\n$/);
    const keys = made.stdout.trim().split('\n');
    for (const key of keys) expect(await infer(key)).toBe(200);
    const id = /\((\S+?),/.exec(made.stderr)?.[1];
    expect(id, made.stderr).toMatch(/^key_/);
    const rolled = await cli(['api-keys', 'roll', id!, '--grace', '0']);
    expect(await infer(onlyCredential(rolled, /mgk_\w+/))).toBe(200);
  });

  it('admin-key-create and token renew', async () => {
    onlyCredential(await runCliToEnd(['admin-key-create', '--description', 'ci'], { cwd: node.cwd }), /mga_\w+/);
    const renewed = await cli(['token', 'renew', '--type', 'inference']);
    expect(await infer(onlyCredential(renewed, /mgi_\w+/))).toBe(200);
  });

  it('-o json still prints everything on stdout', async () => {
    const r = await cli(['jwt', 'issue', '--deployment', 'demo', '-o', 'json']);
    expect(Object.keys(JSON.parse(r.stdout)).sort()).toEqual(['expires_at', 'jti', 'token']);
  });
});

describe('--help examples run as written', () => {
  // A `modelgate` on PATH that is this build; the node's addresses replace the defaults.
  function runExamples(examples: string, env: Record<string, string> = {}) {
    const bin = join(node.cwd, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'modelgate'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, 'modelgate'), 0o755);
    const lines = examples
      .split('\n')
      .filter((l) => l.trim().startsWith('$ '))
      .map((l) => l.trim().slice(2).replaceAll('http://127.0.0.1:8080', node.urls.inference));
    expect(lines.length).toBeGreaterThan(1);
    const script = lines.map((l) => (l.startsWith('curl') ? `${l.replace('curl', 'curl -sf -o /dev/null')}` : l));
    return spawnSync('bash', ['-e', '-o', 'pipefail', '-c', `${script.join('\n')}\necho done`], {
      cwd: node.cwd,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, MODELGATE_ENDPOINT: node.urls.management, ...env },
      encoding: 'utf8',
    });
  }

  it('jwt issue --help', () => {
    const run = runExamples(JWT_ISSUE_EXAMPLES);
    expect(run.stdout, run.stderr).toBe('done\n');
  });

  it('tokens create --help', () => {
    const run = runExamples(TOKENS_CREATE_EXAMPLES, { MODELGATE_API_TOKEN: session });
    expect(run.stdout, run.stderr).toBe('done\n');
  });

  it('--expires-at takes a duration from now or an ISO time; the help says both', async () => {
    const help = await cli(['jwt', 'issue', '--help']);
    expect(help.stdout).toContain('a duration from now');
    expect(help.stdout).not.toContain('2030');
    const r = await cli(['jwt', 'issue', '--deployment', 'demo', '--expires-at', '2h', '-o', 'json']);
    const expires = Date.parse(JSON.parse(r.stdout).expires_at);
    expect(Math.abs(expires - Date.now() - 2 * 3600_000)).toBeLessThan(120_000);
  });
});

describe('--grace needs a unit', () => {
  it('--grace 1 is refused with the way to say one second; 0 and 1s are taken', async () => {
    const r = await cli(['api-keys', 'roll', 'key_whatever', '--grace', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('1s for seconds');
  });
});
