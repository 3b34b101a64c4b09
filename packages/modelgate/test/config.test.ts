import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addConfigFlags, configFlagValues } from '../src/cli/config-flags.js';
import { loadConfig } from '../src/config/load.js';
import { type ConfigResult, type ConfigSources, resolveConfig } from '../src/config/resolve.js';
import { CONFIG_KEYS, CONFIG_SCHEMA } from '../src/config/schema.js';
import { ModelgateError } from '../src/kernel/errors.js';
import { freePort, runCli, tempDir } from './helpers/node-process.js';

const FILE = 'modelgate.yaml';

function ok(sources: ConfigSources): Extract<ConfigResult, { ok: true }> {
  const r = resolveConfig(sources);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.problems.join('\n')}`);
  return r;
}

function problems(sources: ConfigSources): readonly string[] {
  const r = resolveConfig(sources);
  if (r.ok) throw new Error('expected the config to be refused');
  return r.problems;
}

/** Parses argv the way `modelgate start` does and returns the CLI source. */
function cliFrom(argv: string[]): ConfigSources['cli'] {
  const command = addConfigFlags(new Command('start').exitOverride());
  command.parse(argv, { from: 'user' });
  return configFlagValues(command.opts());
}

describe('config precedence: environment > command line > config file > default', () => {
  it('default only: every key has its schema default', () => {
    const r = ok({});
    for (const key of CONFIG_KEYS) {
      expect(r.config[key], key).toBe(CONFIG_SCHEMA[key].default);
      expect(r.origins[key], key).toBe('default');
    }
    expect(r.config.inference_address).toBe('http://127.0.0.1:8080');
    expect(r.config.management_address).toBe('http://127.0.0.1:8081');
    expect(r.config.metrics_address).toBe('http://127.0.0.1:8082');
    expect(r.config.default_deployment_access).toBe('protected');
    expect(r.config.disable_token_authorization).toBe(false);
    expect(Object.isFrozen(r.config)).toBe(true);
  });

  it('file only: file values replace defaults, keeping their YAML types', () => {
    const r = ok({
      file: {
        path: FILE,
        values: {
          inference_address: 'http://0.0.0.0:9090',
          token_expiration_min: 15,
          disable_token_authorization: true,
        },
      },
    });
    expect(r.config.inference_address).toBe('http://0.0.0.0:9090');
    expect(r.config.token_expiration_min).toBe(15);
    expect(r.config.disable_token_authorization).toBe(true);
    expect(r.origins.inference_address).toBe('file');
    expect(r.config.management_address).toBe('http://127.0.0.1:8081');
    expect(r.origins.management_address).toBe('default');
  });

  it('CLI over file', () => {
    const r = ok({
      file: { path: FILE, values: { inference_address: 'http://127.0.0.1:9090', log_level: 'warn' } },
      cli: { inference_address: 'http://127.0.0.1:9191', token_expiration_min: '5' },
    });
    expect(r.config.inference_address).toBe('http://127.0.0.1:9191');
    expect(r.origins.inference_address).toBe('cli');
    expect(r.config.token_expiration_min).toBe(5);
    expect(r.config.log_level).toBe('warn');
    expect(r.origins.log_level).toBe('file');
  });

  it('env over CLI when enable_envvars_config is true in the file', () => {
    const r = ok({
      file: { path: FILE, values: { enable_envvars_config: true, basic_auth_username: 'from-file' } },
      cli: { inference_address: 'http://127.0.0.1:9191', basic_auth_username: 'from-cli' },
      env: { MODELGATE_INFERENCE_ADDRESS: 'http://127.0.0.1:9292', MODELGATE_TOKEN_EXPIRATION_MIN: '7' },
    });
    expect(r.config.inference_address).toBe('http://127.0.0.1:9292');
    expect(r.origins.inference_address).toBe('env');
    expect(r.config.token_expiration_min).toBe(7);
    expect(r.config.basic_auth_username).toBe('from-cli');
  });

  it('env over CLI when enabled by the CLI flag', () => {
    const r = ok({
      file: { path: FILE, values: { log_level: 'warn' } },
      cli: cliFrom(['--enable-envvars-config', '--log-level', 'error']),
      env: { MODELGATE_LOG_LEVEL: 'debug' },
    });
    expect(r.config.enable_envvars_config).toBe(true);
    expect(r.config.log_level).toBe('debug');
    expect(r.origins.log_level).toBe('env');
  });

  it('env is IGNORED when enable_envvars_config is false or absent', () => {
    const env = { MODELGATE_INFERENCE_ADDRESS: 'http://127.0.0.1:9292', MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'true' };
    const absent = ok({ cli: { inference_address: 'http://127.0.0.1:9191' }, env });
    expect(absent.config.inference_address).toBe('http://127.0.0.1:9191');
    expect(absent.config.disable_token_authorization).toBe(false);
    const off = ok({ file: { path: FILE, values: { enable_envvars_config: false } }, env });
    expect(off.config.inference_address).toBe('http://127.0.0.1:8080');
    expect(off.config.disable_token_authorization).toBe(false);
    // The CLI turning it off beats a file turning it on.
    const cliOff = ok({
      file: { path: FILE, values: { enable_envvars_config: true } },
      cli: { enable_envvars_config: 'false' },
      env,
    });
    expect(cliOff.config.inference_address).toBe('http://127.0.0.1:8080');
    // Ignored means not even validated.
    expect(ok({ env: { MODELGATE_TOKEN_EXPIRATION_MIN: 'not a number' } }).config.token_expiration_min).toBe(60);
  });

  it('env vars cannot enable enable_envvars_config themselves', () => {
    const r = ok({
      env: { MODELGATE_ENABLE_ENVVARS_CONFIG: 'true', MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'true' },
    });
    expect(r.config.enable_envvars_config).toBe(false);
    expect(r.config.disable_token_authorization).toBe(false);
    // And cannot turn it off once the file turned it on.
    const on = ok({
      file: { path: FILE, values: { enable_envvars_config: true } },
      env: { MODELGATE_ENABLE_ENVVARS_CONFIG: 'false', MODELGATE_LOG_LEVEL: 'warn' },
    });
    expect(on.config.enable_envvars_config).toBe(true);
    expect(on.config.log_level).toBe('warn');
  });

  it("booleans given as text 'true'/'false' (CLI and env)", () => {
    expect(ok({ cli: { disable_token_authorization: 'true' } }).config.disable_token_authorization).toBe(true);
    expect(
      ok({
        file: { path: FILE, values: { disable_token_authorization: true } },
        cli: { disable_token_authorization: 'false' },
      }).config.disable_token_authorization,
    ).toBe(false);
    expect(
      ok({
        file: { path: FILE, values: { enable_envvars_config: true } },
        cli: { disable_token_authorization: 'true' },
        env: { MODELGATE_DISABLE_TOKEN_AUTHORIZATION: 'false' },
      }).config.disable_token_authorization,
    ).toBe(false);
    expect(problems({ cli: { disable_token_authorization: 'maybe' } })).toEqual([
      '--disable-token-authorization must be true or false, got "maybe"',
    ]);
    // Through the real flag parser: bare flag, =false, and a separate value.
    expect(cliFrom(['--disable-token-authorization'])).toEqual({ disable_token_authorization: true });
    expect(ok({ cli: cliFrom(['--disable-token-authorization=false']) }).config.disable_token_authorization).toBe(
      false,
    );
    expect(ok({ cli: cliFrom(['--enable-envvars-config', 'true']) }).config.enable_envvars_config).toBe(true);
  });

  it('the --disable-token-auth alias sets disable_token_authorization', () => {
    const cli = cliFrom(['--disable-token-auth']);
    expect(cli).toEqual({ disable_token_authorization: true });
    const r = ok({ file: { path: FILE, values: { disable_token_authorization: false } }, cli });
    expect(r.config.disable_token_authorization).toBe(true);
    expect(r.origins.disable_token_authorization).toBe('cli');
    expect(ok({ cli: cliFrom(['--disable-token-auth=false']) }).config.disable_token_authorization).toBe(false);
  });
});

describe('invalid configuration', () => {
  it('reports every problem of a bad file together', () => {
    const found = problems({
      file: {
        path: 'bad.yaml',
        values: {
          inference_adress: 'http://127.0.0.1:8080',
          token_expiration_min: 'sixty',
          metrics_address: 'localhost:8082',
          default_deployment_access: 'open',
          management_address: 'https://127.0.0.1:8443',
        },
      },
    });
    expect(found).toHaveLength(5);
    expect(found).toContain('bad.yaml: unknown key "inference_adress" (did you mean "inference_address"?)');
    expect(found).toContain('bad.yaml: token_expiration_min must be a number, got "sixty"');
    expect(found).toContainEqual(
      expect.stringMatching(/^bad\.yaml: metrics_address must look like http:\/\/HOST:PORT/),
    );
    expect(found).toContain('bad.yaml: default_deployment_access must be one of protected, public, got "open"');
    expect(found).toContain('an https:// address needs both certificate_file and private_key_file');
  });

  it.each([
    ['wrong type', { disable_token_authorization: 'yes' }, /disable_token_authorization must be true or false/],
    ['bad address (port range)', { inference_address: 'http://127.0.0.1:70000' }, /port 70000 is out of range/],
    ['bad address (no scheme)', { management_address: '127.0.0.1:8081' }, /management_address must look like/],
    ['bad enum', { log_level: 'loud' }, /log_level must be one of fatal, error/],
    ['number below its minimum', { token_expiration_min: 0 }, /token_expiration_min must be greater than 0/],
    ['https without cert', { inference_address: 'https://127.0.0.1:8443' }, /https:\/\/ address needs both/],
    ['not a mapping', ['a', 'b'], /must be a mapping/],
  ])('%s', (_, values, pattern) => {
    const found = problems({ file: { path: 'bad.yaml', values } });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(pattern);
  });

  it('an https address with both cert and key is accepted', () => {
    const r = ok({
      file: {
        path: FILE,
        values: {
          inference_address: 'https://127.0.0.1:8443',
          certificate_file: 'cert.pem',
          private_key_file: 'key.pem',
        },
      },
    });
    expect(r.config.inference_address).toBe('https://127.0.0.1:8443');
  });

  it('problems from the file, the CLI and the environment are reported together', () => {
    const found = problems({
      file: { path: FILE, values: { enable_envvars_config: true, log_level: 'loud' } },
      cli: { token_expiration_min: 'soon' },
      env: { MODELGATE_METRICS_ADDRESS: 'nowhere' },
    });
    expect(found).toHaveLength(3);
    expect(found.join('\n')).toMatch(/log_level/);
    expect(found.join('\n')).toMatch(/--token-expiration-min must be a number/);
    expect(found.join('\n')).toMatch(/MODELGATE_METRICS_ADDRESS must look like/);
  });

  it('loadConfig throws CONFIG_INVALID (exit status 2) listing each problem', () => {
    const dir = tempDir();
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'log_level: loud\nbogus: 1\n');
    let caught: unknown;
    try {
      loadConfig({ configPath: path, cli: {}, env: {} });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ModelgateError);
    const err = caught as ModelgateError;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.details).toHaveLength(2);
    expect(err.message).toMatch(/2 problems/);
  });
});

async function refused(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((res) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      res(false);
    });
    socket.once('error', () => res(true));
  });
}

describe('modelgate start with a bad config file (spawned)', () => {
  it('exits 2, prints every problem, and binds nothing', async () => {
    const cwd = tempDir();
    const ports = [await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(cwd, 'bad.yaml'),
      [
        `inference_address: http://127.0.0.1:${ports[0]}`,
        `management_address: http://127.0.0.1:${ports[1]}`,
        `metrics_address: http://127.0.0.1:${ports[2]}`,
        'inference_adress: http://127.0.0.1:1',
        'token_expiration_min: sixty',
        'default_deployment_access: open',
        '',
      ].join('\n'),
    );
    const proc = runCli(['start', '--config', 'bad.yaml'], { cwd });
    expect(await proc.exited).toBe(2);
    const out = proc.output();
    expect(out).toMatch(/3 problems/);
    expect(out).toContain('unknown key "inference_adress" (did you mean "inference_address"?)');
    expect(out).toContain('token_expiration_min must be a number, got "sixty"');
    expect(out).toContain('default_deployment_access must be one of protected, public, got "open"');
    expect(out).toContain('[CONFIG_INVALID]');
    expect(out).not.toMatch(/modelgate started|store ready/);
    // Nothing was opened or bound.
    expect(existsSync(join(cwd, '.modelgate'))).toBe(false);
    for (const port of ports) expect(await refused(port)).toBe(true);
  });

  it('a YAML syntax error exits 2 naming the line', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'bad.yaml'), 'log_level: info\ninference_address: [unclosed\n');
    const proc = runCli(['start', '--config', 'bad.yaml'], { cwd });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toMatch(/bad\.yaml: not valid YAML at line \d+/);
    expect(proc.output()).not.toMatch(/modelgate started/);
  });

  it('reads ./modelgate.yaml when no --config is given', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'modelgate.yaml'), 'log_levle: debug\n');
    const proc = runCli(['start'], { cwd });
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('modelgate.yaml: unknown key "log_levle" (did you mean "log_level"?)');
  });

  it('a missing --config file exits 2', async () => {
    const proc = runCli(['start', '--config', 'nope.yaml']);
    expect(await proc.exited).toBe(2);
    expect(proc.output()).toContain('nope.yaml: no such file');
  });
});
