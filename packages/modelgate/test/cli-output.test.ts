import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main.js';
import { forEachCommand } from '../src/cli/usage.js';
import { manage, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { BIN, runCliToEnd, tempDir } from './helpers/node-process.js';

/**
 * The CLI's output (issue 10): failures as one `error [CODE]: message` line (or JSON on stderr with
 * `-o json`), usage errors with the command's one-line usage, one JSON shape for every list,
 * shell completion generated from the command tree, and `--cacert` / `--insecure` for a
 * management API on https://. The real binary against real nodes.
 */

let t: TestNode;

async function cli(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  return runCliToEnd([...args, '--endpoint', t.node.urls.management], {
    ...options,
    env: { MODELGATE_API_TOKEN: t.keys.management, ...options.env },
  });
}

beforeAll(async () => {
  t = await startTestNode();
  expect((await manage(t, 'POST', '/deployments', { name: 'm1', upstream: 'http://127.0.0.1:9' })).status).toBe(201);
  expect((await manage(t, 'POST', '/api-keys', { deployment: 'm1' })).status).toBe(201);
  expect((await manage(t, 'POST', '/secrets', { name: 's1', generate: true })).status).toBe(201);
  expect((await manage(t, 'POST', '/groups', { name: 'g1' })).status).toBe(201);
}, 60_000);
afterAll(() => t?.close());

describe('failures: one code per error line, JSON on stderr with -o json', () => {
  it('an API refusal shows the API code once; -o json prints {"error":{"code","message","status"}} on stderr', async () => {
    const text = await cli(['deployments', 'show', 'nope']);
    expect(text.code).toBe(1);
    expect(text.stdout).toBe('');
    const lines = text.stderr.trimEnd().split('\n');
    expect(lines).toEqual([expect.stringMatching(/^error \[RESOURCE_NOT_FOUND\]: .*nope.* \(HTTP 404\)$/)]);

    const json = await cli(['deployments', 'show', 'nope', '-o', 'json']);
    expect(json.code).toBe(1);
    expect(json.stdout).toBe('');
    const body = JSON.parse(json.stderr) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'RESOURCE_NOT_FOUND', status: 404 });
    expect(body.error.message).toContain('nope');
  });

  it('a refused credential in JSON mode: the code, and the credential nowhere', async () => {
    const bad = 'mgm_notTheKeyNotTheKeyNotTheKey000000';
    const r = await cli(['deployments', 'list', '-o', 'json'], { env: { MODELGATE_API_TOKEN: bad } });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr).error.code).toMatch(/^CREDENTIAL_(MALFORMED|UNKNOWN)$/);
    expect(r.all).not.toContain(bad);
  });

  it('an unreachable endpoint is CLI_REQUEST_FAILED, as JSON too', async () => {
    const r = await runCliToEnd(['secrets', 'list', '--endpoint', 'http://127.0.0.1:9', '-o', 'json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stderr)).toEqual({
      error: { code: 'CLI_REQUEST_FAILED', message: expect.stringContaining('cannot reach') },
    });
  });
});

describe('usage errors: the one-line usage and a hint, not the whole help (exit 2)', () => {
  it.each([
    ['an unknown flag', ['deployments', 'list', '--frobnicate'], 'modelgate deployments list [options]'],
    ['a missing argument', ['deployments', 'show'], 'modelgate deployments show [options] <name>'],
    [
      'a bad choice',
      ['deploy', 'x', '--upstream', 'http://u', '--access', 'open'],
      'modelgate deploy [options] <name>',
    ],
    ['an unknown command', ['deploymnts'], 'modelgate [options] [command]'],
  ])('%s', async (_, args, usage) => {
    const r = await runCliToEnd(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^error \[CLI_USAGE\]: /);
    expect(lines).toContain(`usage: ${usage}`);
    const command = usage.replace(/ \[options\].*$/, '');
    expect(lines.at(-1)).toBe(`see \`${command} --help\``);
    // Not the help: no option list, a few lines only.
    expect(r.stderr).not.toContain('Options:');
    expect(lines.length).toBeLessThanOrEqual(4);
  });

  it('a usage error found by the command itself shows its usage too', async () => {
    const r = await runCliToEnd(['api-keys', 'create', '--endpoint', 'http://127.0.0.1:9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[CLI_USAGE\]: give either --deployment NAME/);
    expect(r.stderr).toContain('usage: modelgate api-keys create (--deployment NAME | --service S --version V)');
    expect(r.stderr).toContain('see `modelgate api-keys create --help`');
  });

  it('with -o json the usage error is JSON on stderr, with the usage and the hint', async () => {
    const r = await runCliToEnd(['deployments', 'list', '--frobnicate', '-o', 'json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr)).toEqual({
      error: {
        code: 'CLI_USAGE',
        message: "unknown option '--frobnicate'",
        usage: 'modelgate deployments list [options]',
        hint: 'see `modelgate deployments list --help`',
      },
    });
  });
});

/** Every list command, with what must be in its items; the tree check below keeps this complete. */
const LIST_COMMANDS: [string[], (items: Record<string, unknown>[]) => void][] = [
  [['deployments', 'list'], (items) => expect(items.map((i) => i.name)).toContain('m1')],
  [['api-keys', 'list'], (items) => expect(items[0]).toMatchObject({ deployment: 'm1' })],
  [['secrets', 'list'], (items) => expect(items.map((i) => i.name)).toEqual(['s1'])],
  [['users', 'list'], (items) => expect(items).toEqual([])],
  [['groups', 'list'], (items) => expect(items.map((i) => i.name)).toContain('g1')],
  [['infrastructures', 'list'], (items) => expect(items.map((i) => i.name)).toContain('default')],
  [['services', 'list'], (items) => expect(items.map((i) => i.name)).toContain('m1')],
  [['services', 'versions', 'list', 'm1'], (items) => expect(items.map((i) => i.version)).toEqual(['1'])],
  [['grants', 'list', 'service', 'm1'], (items) => expect(items).toEqual([])],
  [['signing-keys', 'list'], (items) => expect(items[0]).toHaveProperty('kid')],
  [['tokens', 'list'], (items) => expect(items).toEqual([])],
  [['audit', '--limit', '5'], (items) => expect(items.length).toBeGreaterThan(0)],
];

describe('one JSON shape for lists: {"items":[...]}', () => {
  it.each(LIST_COMMANDS)('%j', async (args, check) => {
    const r = await cli([...args, '-o', 'json']);
    expect(r.code, r.all).toBe(0);
    const body = JSON.parse(r.stdout) as { items: Record<string, unknown>[] };
    expect(Array.isArray(body.items)).toBe(true);
    check(body.items);
  });

  it('admin-keys-list (on the store directly) too', async () => {
    const r = await runCliToEnd(['admin-keys-list', '--data-dir', join(t.dir, 'data'), '-o', 'json']);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ items: [] });
  });

  it('no list command is left out of the table above', () => {
    const lists: string[] = [];
    forEachCommand(buildProgram(), (c) => {
      if (c.name() === 'list' || c.name().endsWith('-list')) {
        const words: string[] = [];
        for (let x: typeof c | null = c; x?.parent; x = x.parent) words.unshift(x.name());
        lists.push(words.join(' '));
      }
    });
    // admin-keys-list: above; contexts list (local, no endpoint): test/cli-login.test.ts.
    const words = (args: string[]) => args.slice(0, args.includes('list') ? args.indexOf('list') + 1 : 2).join(' ');
    const covered = [...LIST_COMMANDS.map(([args]) => words(args)), 'admin-keys-list', 'contexts list'];
    for (const list of lists) expect(covered, `${list} needs a row in LIST_COMMANDS`).toContain(list);
  });
});

describe('shell completion, generated from the command tree', () => {
  const commandNames = () => {
    const names = new Set<string>();
    forEachCommand(buildProgram(), (c) => {
      if (c.parent) names.add(c.name());
    });
    return [...names];
  };

  it.each(['bash', 'zsh', 'fish'])('%s: every command name appears', async (shell) => {
    const r = await runCliToEnd(['completion', shell]);
    expect(r.code, r.all).toBe(0);
    for (const name of commandNames()) expect(r.stdout).toContain(name);
  });

  it('bash: sourcing it registers the completion for modelgate', () => {
    const out = execFileSync(
      'bash',
      ['-c', `source <("${process.execPath}" "${BIN}" completion bash); complete -p modelgate`],
      {
        encoding: 'utf8',
      },
    );
    expect(out.trim()).toBe('complete -F _modelgate modelgate');
  });

  it('bash: completes subcommands, options and option values', () => {
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source <("${process.execPath}" "${BIN}" completion bash)
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _modelgate; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'modelgate',
          ...words,
        ],
        { encoding: 'utf8' },
      )
        .trim()
        .split('\n');
    expect(complete('modelgate', 'deployments', '')).toEqual(['list', 'show', 'update', 'enable', 'disable', 'delete']);
    expect(complete('modelgate', 'dep')).toEqual(['deploy', 'deployments']);
    expect(complete('modelgate', 'contexts', 'list', '--out')).toEqual(['--output']);
    expect(complete('modelgate', 'deploy', 'x', '--access', '')).toEqual(['public', 'protected']);
    expect(complete('modelgate', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
  });

  it.each(['zsh', 'fish'])('%s: the script parses (when the shell is installed)', async (shell) => {
    if (spawnSync(shell, ['--version']).error) return; // not installed here: the name check above still ran
    const dir = tempDir();
    const file = join(dir, `modelgate.${shell}`);
    execFileSync('sh', ['-c', `"${process.execPath}" "${BIN}" completion ${shell} > "${file}"`]);
    const parsed = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
    expect(parsed.status, parsed.stderr).toBe(0);
    if (shell === 'fish') {
      const offered = execFileSync('fish', ['-c', `source ${file}; complete -C 'modelgate deployments '`], {
        encoding: 'utf8',
      });
      expect(offered).toMatch(/^update\t/m);
    }
  });
});

describe('--cacert and --insecure for a management API on https://', () => {
  let tls: TestNode;
  let cert: string;
  beforeAll(async () => {
    const dir = tempDir();
    cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    // A throwaway self-signed certificate for 127.0.0.1 (an IP needs a subjectAltName).
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
        ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
      ],
      { stdio: 'ignore' },
    );
    tls = await startTestNode({
      management_address: 'https://127.0.0.1:0',
      certificate_file: cert,
      private_key_file: key,
    });
  }, 60_000);
  afterAll(() => tls?.close());

  const tlsCli = (args: string[]) =>
    runCliToEnd(['deployments', 'list', '--endpoint', tls.node.urls.management, ...args], {
      env: { MODELGATE_API_TOKEN: tls.keys.management },
    });

  it('without --cacert the self-signed certificate is refused with CLI_TLS_UNTRUSTED, naming the way out', async () => {
    const r = await tlsCli([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[CLI_TLS_UNTRUSTED\]: .*--cacert FILE/);
    expect(r.all).not.toContain(tls.keys.management);
  });

  it('with --cacert it works, without any warning', async () => {
    const r = await tlsCli(['--cacert', cert, '-o', 'json']);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ items: [] });
    expect(r.stderr).toBe('');
  });

  it('with --insecure it works, with a warning on stderr', async () => {
    const r = await tlsCli(['--insecure']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('No deployments yet');
    expect(r.stderr).toMatch(/^warning: --insecure: .*not verified/);
  });

  it('a --cacert that is not a certificate is a usage error naming the file', async () => {
    const r = await tlsCli(['--cacert', join(tls.dir, 'key_file.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error \[CLI_USAGE\]: --cacert .*key_file\.json holds no PEM certificate/);
    expect(r.all).not.toContain(tls.keys.management);
  });
});
