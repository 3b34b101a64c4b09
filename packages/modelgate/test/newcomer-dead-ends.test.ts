import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envWarnings } from '../src/config/env-warnings.js';
import { resolveConfig } from '../src/config/resolve.js';
import { type NodeProcess, runCliToEnd, startNodeProcess, tempDir } from './helpers/node-process.js';
import { README } from './helpers/readme.js';

/**
 * Issue 22, item 8: the small places where a newcomer stopped. Each is checked the way a user
 * meets it: a config file, the environment of `modelgate start`, a mistyped flag.
 */

describe('config file', () => {
  it('`workers: 2` (a YAML number) is taken, as `--workers 2` is', () => {
    const r = resolveConfig({ file: { path: 'modelgate.yaml', values: { workers: 2 } } });
    expect(r.ok && r.config.workers).toBe('2');
  });

  it('`modelgate start` with `workers: 2` in modelgate.yaml starts two workers', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'modelgate.yaml'), 'workers: 2\n');
    const node = await startNodeProcess([], { cwd });
    try {
      expect(JSON.parse(await node.waitFor(/modelgate started/)).workers).toBe(2);
    } finally {
      await node.stop();
    }
  });
});

describe('environment variables of modelgate start', () => {
  it('config variables set without enable_envvars_config are named in one warning', () => {
    const warnings = envWarnings({ MODELGATE_WORKERS: '2', MODELGATE_LOG_LEVEL: 'debug', PATH: '/bin' }, false);
    expect(warnings).toEqual([expect.stringContaining('MODELGATE_LOG_LEVEL, MODELGATE_WORKERS are ignored')]);
    expect(warnings[0]).toContain('enable_envvars_config');
    expect(envWarnings({ MODELGATE_WORKERS: '2' }, true)).toEqual([]);
  });

  it('a misspelled variable is named with the nearest known one; client and secret variables are not warned about', () => {
    expect(envWarnings({ MODELGATE_WROKERS: '2' }, true)).toEqual([
      'MODELGATE_WROKERS is not a modelgate variable and is ignored (did you mean MODELGATE_WORKERS?)',
    ]);
    expect(
      envWarnings(
        { MODELGATE_API_TOKEN: 't', MODELGATE_ENDPOINT: 'e', MODELGATE_MASTER_KEY: 'k', MODELGATE_SECRET_PW: 'v' },
        false,
      ),
    ).toEqual([]);
  });

  it('a real start logs both warnings, naming the variables and never their values', async () => {
    const node = await startNodeProcess([], {
      env: { MODELGATE_LOG_LEVEL: 'debug-value-1', MODELGATE_INFERENCE_ADRESS: 'value-2' },
    });
    try {
      const out = node.output();
      expect(out).toMatch(/"level":40.*MODELGATE_LOG_LEVEL is ignored/);
      expect(out).toMatch(/"level":40.*MODELGATE_INFERENCE_ADRESS .*did you mean MODELGATE_INFERENCE_ADDRESS/);
      expect(out).not.toContain('debug-value-1');
      expect(out).not.toContain('value-2');
    } finally {
      await node.stop();
    }
  });
});

describe('CLI flags', () => {
  let node: NodeProcess;
  beforeAll(async () => {
    node = await startNodeProcess();
  });
  afterAll(async () => {
    await node?.stop();
  });
  const cli = (args: string[]) => runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd });

  it('--rights deplyo lists the allowed rights and the nearest one', async () => {
    const r = await cli(['grants', 'set', 'infrastructure', 'default', 'team', '--rights', 'view,deplyo']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"deplyo" is not a right on a infrastructure (did you mean "deploy"?)');
    expect(r.stderr).toContain('view, deploy, admin');
    const service = await cli(['grants', 'set', 'service', 'x', 'team', '--rights', 'own']);
    expect(service.stderr).toContain('read, write, deploy, admin');
  });

  it('--upstrem is an unknown option with a did-you-mean, even where --upstream is required', async () => {
    for (const args of [
      ['deploy', 'm', '--upstrem', 'http://127.0.0.1:9'],
      ['deployments', 'update', 'm', '--upstrem', 'http://127.0.0.1:9'],
    ]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("unknown option '--upstrem'");
      expect(r.stderr).toContain('Did you mean --upstream?');
    }
  });

  it('users create --admin makes a global admin; a second one joins the same group', async () => {
    const pw = { stdin: 'a passphrase long enough' };
    const cliIn = (args: string[]) =>
      runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...pw });
    const first = await cliIn(['users', 'create', 'root-one', '--admin']);
    expect(first.code, first.all).toBe(0);
    expect(first.stdout).toContain('Created user root-one in admins');
    expect((await cliIn(['users', 'create', 'root-two', '--admin'])).code).toBe(0);
    const group = JSON.parse((await cli(['groups', 'show', 'admins', '-o', 'json'])).stdout);
    expect(group.privileges).toEqual(['admin']);
    expect(group.members.sort()).toEqual(['root-one', 'root-two']);
    // The session of a user made so may create tokens (the management key may not: USER_REQUIRED).
    const session = (await cliIn(['sessions', 'create', '--username', 'root-one'])).stdout.trim();
    const token = await runCliToEnd(['tokens', 'create', 'x', '--ops', '--endpoint', node.urls.management], {
      cwd: node.cwd,
      env: { MODELGATE_API_TOKEN: session },
    });
    expect(token.code, token.all).toBe(0);
  });

  it('--grace 1 is refused: a duration needs its unit', async () => {
    const r = await cli(['tokens', 'roll', 'x', '--grace', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Expected a duration with its unit');
  });
});

describe('README tables', () => {
  /** Every table in the README: its lines, from the header row to the last row. */
  function tables(): string[][] {
    const out: string[][] = [];
    let current: string[] | undefined;
    let fenced = false;
    for (const line of README.split('\n')) {
      if (line.startsWith('```')) fenced = !fenced;
      if (!fenced && line.startsWith('|')) {
        current = current ?? [];
        current.push(line);
      } else if (current) {
        out.push(current);
        current = undefined;
      }
    }
    return out;
  }

  it('each table has one header: no two tables fused, no separator row in the middle', () => {
    for (const table of tables()) {
      const separators = table.filter((l) => /^\|[\s|:-]+\|$/.test(l)).map((l) => table.indexOf(l));
      expect(separators, table[0]).toEqual([1]);
    }
  });

  it('each command appears in one row of the CLI table', () => {
    const section = README.slice(README.indexOf('## CLI'), README.indexOf('### Login and contexts'));
    const rows = section.split('\n').filter((l) => l.startsWith('| `modelgate'));
    expect(rows.length).toBeGreaterThan(20);
    expect(new Set(rows.map((r) => r.split(' | ')[0]?.trim())).size).toBe(rows.length);
    expect(section.match(/^\| command /gm)).toHaveLength(1);
  });
});
