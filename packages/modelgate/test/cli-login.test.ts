import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './helpers/in-process-node.js';
import { BIN, runCliToEnd, tempDir } from './helpers/node-process.js';
import { api, userWithSession } from './helpers/people.js';

/**
 * Issue 11 B4, acceptance 2: `modelgate login` with piped input and in a pseudo-terminal, the
 * contexts file (0600, atomic, under XDG_CONFIG_HOME), `current-context` as JSON for jq,
 * `contexts list|use|delete` and `logout`, and the login context as the CLI's third credential.
 * The real binary against a real node, with the node's management key and with a person's API
 * token (`mgt_`): an ops token logs in; an endpoint-only token is refused (it cannot call the
 * management API the context is for).
 */

let t: TestNode;
beforeAll(async () => {
  t = await startTestNode();
}, 60_000);
afterAll(() => t?.close());

/** A fresh XDG_CONFIG_HOME and the contexts file under it. */
function configHome(): { env: Record<string, string>; file: string } {
  const xdg = tempDir('modelgate-xdg-');
  return { env: { XDG_CONFIG_HOME: xdg }, file: join(xdg, 'modelgate', 'contexts.json') };
}

/** The CLI in an empty directory (no key_file.json), so only the login context can authenticate. */
function cli(args: string[], env: Record<string, string>, stdin?: string) {
  return runCliToEnd(args, { env, cwd: tempDir(), ...(stdin === undefined ? {} : { stdin }) });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('login with piped input, then the context is the credential', () => {
  const home = configHome();

  it('checks the token, saves the context 0600 in a 0700 dir, and never prints the token', async () => {
    const r = await cli(
      ['login', '--endpoint', t.node.urls.management, '--context', 'ci'],
      home.env,
      `${t.keys.management}\n`,
    );
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Logged in to ${t.node.urls.management} as management key`);
    expect(r.stdout).toContain('context "ci" (now current)');
    expect(r.all).not.toContain(t.keys.management);
    expect(mode(home.file)).toBe(0o600);
    expect(mode(dirname(home.file))).toBe(0o700);
    const saved = JSON.parse(readFileSync(home.file, 'utf8'));
    expect(saved).toEqual({
      current_context: 'ci',
      contexts: [{ name: 'ci', endpoint: t.node.urls.management, api_token: t.keys.management }],
    });
  });

  it('current-context prints name, endpoint and api_token as JSON (the jq example of the README works)', async () => {
    const r = await cli(['current-context'], home.env);
    expect(r.code, r.all).toBe(0);
    const c = JSON.parse(r.stdout) as { name: string; endpoint: string; api_token: string };
    expect(c).toEqual({ name: 'ci', endpoint: t.node.urls.management, api_token: t.keys.management });
    const expected = `endpoint:${t.node.urls.management}, api_token:${t.keys.management}`;
    expect(`endpoint:${c.endpoint}, api_token:${c.api_token}`).toBe(expected);
    if (spawnSync('jq', ['--version']).error) return; // jq not installed: JSON.parse above is the same check
    const jq = execFileSync(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${BIN}" current-context | jq '("endpoint:" + .endpoint + ", api_token:" + .api_token)'`,
      ],
      { env: { ...process.env, ...home.env }, encoding: 'utf8' },
    );
    expect(JSON.parse(jq)).toBe(expected);
  });

  it('commands then use the context: its endpoint and token, without flags, env or key file', async () => {
    const r = await cli(['deployments', 'list', '-o', 'json'], home.env);
    expect(r.code, r.all).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ items: [] });
    const who = await cli(['sessions', 'whoami', '-o', 'json'], home.env);
    expect(JSON.parse(who.stdout)).toMatchObject({ kind: 'management_key' });
  });

  it('contexts list shows names and endpoints, never the token', async () => {
    const table = await cli(['contexts', 'list'], home.env);
    expect(table.code, table.all).toBe(0);
    expect(table.stdout).toMatch(/^CURRENT\s+NAME\s+ENDPOINT$/m);
    expect(table.stdout).toMatch(new RegExp(`^\\*\\s+ci\\s+${t.node.urls.management}$`, 'm'));
    const json = await cli(['contexts', 'list', '-o', 'json'], home.env);
    expect(JSON.parse(json.stdout)).toEqual({
      items: [{ name: 'ci', endpoint: t.node.urls.management, current: true }],
      current_context: 'ci',
    });
    expect(table.all + json.all).not.toContain(t.keys.management);
  });

  it('logout removes the current context; then none is current and current-context says so', async () => {
    const out = await cli(['logout'], home.env);
    expect(out.code, out.all).toBe(0);
    expect(out.stdout).toContain('context "ci"');
    expect(out.stdout).toContain('No context is current now');
    expect(JSON.parse(readFileSync(home.file, 'utf8'))).toEqual({ current_context: null, contexts: [] });
    expect(mode(home.file)).toBe(0o600);
    const none = await cli(['current-context'], home.env);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error \[CLI_CONTEXT_NOT_FOUND\]: no current login context/);
    expect((await cli(['logout'], home.env)).code).toBe(1);
  });
});

describe('login refusals', () => {
  it('a bad token: the API code, "nothing was saved", no file', async () => {
    const home = configHome();
    const bad = 'mgm_notTheKeyNotTheKeyNotTheKey000000';
    const r = await cli(['login', '--endpoint', t.node.urls.management, '--api-token', bad], home.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[CREDENTIAL_(MALFORMED|UNKNOWN)\]: .*nothing was saved/);
    expect(r.all).not.toContain(bad);
    expect(existsSync(home.file)).toBe(false);
  });

  it('an unreachable endpoint saves nothing either; no token given is a usage error', async () => {
    const home = configHome();
    const down = await cli(['login', '--endpoint', 'http://127.0.0.1:9', '--api-token', t.keys.management], home.env);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('nothing was saved');
    const empty = await cli(['login', '--endpoint', t.node.urls.management], home.env, '\n');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/^error \[CLI_USAGE\]: no token given/);
    expect(existsSync(home.file)).toBe(false);
  });

  it('a damaged contexts file is an error naming it, never a silent fall-through to another credential', async () => {
    const home = configHome();
    const ok = await cli(['login', '--endpoint', t.node.urls.management, '--api-token', t.keys.management], home.env);
    expect(ok.code, ok.all).toBe(0);
    writeFileSync(home.file, '{"contexts": [', { mode: 0o600 });
    const r = await cli(['deployments', 'list'], home.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error [CLI_CONTEXTS_FILE_INVALID]: ${home.file}: not JSON`);
  });
});

describe('contexts use and delete: what happens to the current pointer', () => {
  it('login makes the new context current; use switches; deleting a non-current one keeps it; deleting the current one leaves none', async () => {
    const home = configHome();
    const login = (name: string) =>
      cli(
        ['login', '--endpoint', t.node.urls.management, '--context', name, '--api-token', t.keys.management],
        home.env,
      );
    expect((await login('a')).code).toBe(0);
    expect((await login('b')).code).toBe(0);
    const current = async () =>
      JSON.parse((await cli(['contexts', 'list', '-o', 'json'], home.env)).stdout).current_context;
    expect(await current()).toBe('b');

    const used = await cli(['contexts', 'use', 'a'], home.env);
    expect(used.stdout).toContain('Current context is now "a"');
    expect(await current()).toBe('a');

    const unknown = await cli(['contexts', 'use', 'zzz'], home.env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error \[CLI_CONTEXT_NOT_FOUND\]: no login context named "zzz"; saved: a, b/);

    expect((await cli(['contexts', 'delete', 'b'], home.env)).code).toBe(0);
    expect(await current()).toBe('a');
    const gone = await cli(['contexts', 'delete', 'a'], home.env);
    expect(gone.stdout).toContain('It was the current context: none is current now.');
    expect(await current()).toBe(null);
  });
});

/**
 * Types `token` at the no-echo prompt of `modelgate login` in a pseudo-terminal (util-linux
 * `script`); resolves with the exit status and everything the terminal showed, or `undefined`
 * when `script` is not installed.
 */
async function loginInTerminal(
  token: string,
  context: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string } | undefined> {
  if (spawnSync('script', ['--version']).error) return undefined;
  const command = `"${process.execPath}" "${BIN}" login --endpoint ${t.node.urls.management} --context ${context}`;
  const child = spawn('script', ['-qec', command, '/dev/null'], {
    cwd: tempDir(),
    env: { ...process.env, ...env, MODELGATE_API_TOKEN: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const prompted = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('API token for')) resolve();
    });
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  // Typed only once the prompt is up (raw mode, no echo): typed earlier, the terminal would echo it.
  await prompted;
  child.stdin.write(`${token}\r`);
  const code = await exited;
  return { code, output };
}

describe('login with a person’s API token (mgt_)', () => {
  let session: string;
  let ops: string;
  let endpointOnly: string;

  beforeAll(async () => {
    session = await userWithSession(t, 'cli-alice');
    // The user makes her tokens with the CLI, authenticated by her session.
    const make = async (args: string[]) => {
      const r = await cli(['tokens', 'create', ...args, '-o', 'json'], {
        MODELGATE_ENDPOINT: t.node.urls.management,
        MODELGATE_API_TOKEN: session,
      });
      expect(r.code, r.all).toBe(0);
      return JSON.parse(r.stdout).token as string;
    };
    ops = await make(['laptop', '--ops']);
    endpointOnly = await make(['inference-only', '--all-deployments']);
    expect(ops).toMatch(/^mgt_/);
  });

  it('--api-token: checks it, saves it, current-context prints it, and `tokens list` then works with no flags', async () => {
    const home = configHome();
    const r = await cli(['login', '--endpoint', t.node.urls.management, '--api-token', ops], home.env);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain(`Logged in to ${t.node.urls.management} as user "cli-alice" (API token`);
    expect(r.all).not.toContain(ops);
    expect(mode(home.file)).toBe(0o600);
    const c = JSON.parse((await cli(['current-context'], home.env)).stdout);
    expect(c).toEqual({ name: 'default', endpoint: t.node.urls.management, api_token: ops });

    const list = await cli(['tokens', 'list', '-o', 'json'], home.env);
    expect(list.code, list.all).toBe(0);
    const items = JSON.parse(list.stdout).items as { name: string; user: string; prefix: string }[];
    expect(items.map((i) => i.name).sort()).toEqual(['inference-only', 'laptop']);
    expect(items.every((i) => i.user === 'cli-alice')).toBe(true);
    expect(list.all).not.toContain(ops);
    expect(list.all).not.toContain(endpointOnly);
    const table = await cli(['tokens', 'list'], home.env);
    expect(table.stdout).toMatch(/laptop/);
  });

  it('piped on stdin: the same login, and the context then acts as the token’s owner', async () => {
    const home = configHome();
    const r = await cli(['login', '--endpoint', t.node.urls.management, '--context', 'piped'], home.env, `${ops}\n`);
    expect(r.code, r.all).toBe(0);
    expect(r.all).not.toContain(ops);
    expect(JSON.parse((await cli(['current-context'], home.env)).stdout)).toMatchObject({
      name: 'piped',
      api_token: ops,
    });
    const who = await cli(['sessions', 'whoami', '-o', 'json'], home.env);
    expect(JSON.parse(who.stdout)).toMatchObject({ kind: 'user', user: 'cli-alice' });
  });

  it('in a pseudo-terminal: asked without echo, saved', async () => {
    const home = configHome();
    const typed = await loginInTerminal(ops, 'tty-token', home.env);
    if (typed === undefined) return; // util-linux script not installed
    expect(typed.code).toBe(0);
    expect(typed.output).toContain('Logged in to');
    expect(typed.output).not.toContain(ops);
    expect(mode(home.file)).toBe(0o600);
    const c = JSON.parse((await cli(['current-context'], home.env)).stdout);
    expect(c).toMatchObject({ name: 'tty-token', api_token: ops });
  });

  it('an endpoint-only token is refused at login with the reason, and nothing is saved', async () => {
    const home = configHome();
    const r = await cli(['login', '--endpoint', t.node.urls.management, '--api-token', endpointOnly], home.env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error \[FORBIDDEN\]: .*no Developer Operations access/);
    expect(r.stderr).toContain('--ops');
    expect(r.stderr).toContain('nothing was saved');
    expect(r.all).not.toContain(endpointOnly);
    expect(existsSync(home.file)).toBe(false);
  });

  it('a deleted token is refused at login; a saved context whose token is deleted fails on its next command', async () => {
    const home = configHome();
    const made = await api(t, session, 'POST', '/tokens', { name: 'short-lived', ops_access: true });
    expect(made.status, made.text).toBe(201);
    expect(
      (
        await cli(['login', '--api-token', made.body.token], {
          ...home.env,
          MODELGATE_ENDPOINT: t.node.urls.management,
        })
      ).code,
    ).toBe(0);
    expect((await api(t, session, 'DELETE', `/tokens/${made.body.id}`)).status).toBe(204);
    const next = await cli(['tokens', 'list'], home.env);
    expect(next.code).toBe(1);
    expect(next.stderr).toMatch(/^error \[CREDENTIAL_UNKNOWN\]/);
    const again = await cli(
      ['login', '--endpoint', t.node.urls.management, '--api-token', made.body.token],
      configHome().env,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('nothing was saved');
  });
});

describe('login in a pseudo-terminal (script)', () => {
  it('asks for the token without echo and saves it', async () => {
    const home = configHome();
    const typed = await loginInTerminal(t.keys.management, 'tty', home.env);
    if (typed === undefined) return; // util-linux script not installed
    const { code, output } = typed;
    expect(code).toBe(0);
    expect(output).toContain(`API token for ${t.node.urls.management}: `);
    expect(output).toContain('Logged in to');
    expect(output).not.toContain(t.keys.management);
    expect(mode(home.file)).toBe(0o600);
    const c = JSON.parse((await cli(['current-context'], home.env)).stdout);
    expect(c).toMatchObject({ name: 'tty', api_token: t.keys.management });
  });
});
