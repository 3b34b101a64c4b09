import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * END TO END (issue 10): `modelgate deployments update`, `deploy` of an existing name, and
 * `deploy --basic-secret` with an unknown secret, against a real `modelgate start`. The CLI runs
 * in the node's directory and finds the management key in its key_file.json.
 */

let node: NodeProcess;
let first: TestUpstream;
let second: TestUpstream;
let apiKey: string;

const basic = (password: string) => `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;

function cli(args: string[]) {
  return runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd });
}

async function infer(deployment: string, authorization?: string): Promise<number> {
  const res = await fetch(`${node.urls.inference}/${deployment}/predict`, {
    headers: authorization ? { authorization } : {},
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  first = await recordingUpstream('first');
  second = await recordingUpstream('second');
  node = await startNodeProcess();
  expect((await cli(['secrets', 'create', 'pw-one', '--value', 'password-one'])).code).toBe(0);
  const made = await cli(['deploy', 'model', '--upstream', first.url, '--api-keys', '1', '-o', 'json']);
  expect(made.code, made.all).toBe(0);
  apiKey = JSON.parse(made.stdout).api_keys[0].key;
});

afterAll(async () => {
  await node?.stop();
  await first?.close();
  await second?.close();
});

describe('modelgate deployments update', () => {
  it('--upstream moves the traffic and makes a new revision', async () => {
    const r = await cli(['deployments', 'update', 'model', '--upstream', second.url]);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Updated model: revision 2 is live');
    expect(r.stdout).toMatch(new RegExp(`^upstream:\\s+${second.url.replaceAll('.', '\\.')}$`, 'm'));
    const before = second.hits.length;
    expect(await infer('model', `Bearer ${apiKey}`)).toBe(200);
    expect(second.hits.length).toBe(before + 1);
  });

  it('--access public opens it, --access protected closes it again', async () => {
    expect((await cli(['deployments', 'update', 'model', '--access', 'public'])).code).toBe(0);
    expect(await infer('model')).toBe(200);
    expect((await cli(['deployments', 'update', 'model', '--access', 'protected'])).code).toBe(0);
    expect(await infer('model')).toBe(401);
  });

  it('auth flags change only the setting they name', async () => {
    const withBasic = await cli(['deployments', 'update', 'model', '--basic-secret', 'pw-one', '-o', 'json']);
    expect(withBasic.code, withBasic.all).toBe(0);
    expect(JSON.parse(withBasic.stdout).auth).toEqual({
      basic_secret: 'pw-one',
      api_keys: true,
      forward_credential: false,
      credentials: null,
    });
    expect(await infer('model', basic('password-one'))).toBe(200);
    expect(await infer('model', `Bearer ${apiKey}`)).toBe(200);

    expect((await cli(['deployments', 'update', 'model', '--api-keys', 'off'])).code).toBe(0);
    expect(await infer('model', `Bearer ${apiKey}`)).toBe(401);
    expect(await infer('model', basic('password-one'))).toBe(200);

    expect((await cli(['deployments', 'update', 'model', '--forward-credential', 'on'])).code).toBe(0);
    expect(await infer('model', basic('password-one'))).toBe(200);
    expect(second.hits.at(-1)?.headers.authorization).toBe(basic('password-one'));

    const noBasic = await cli([
      'deployments',
      'update',
      'model',
      '--no-basic-secret',
      '--api-keys',
      'on',
      '-o',
      'json',
    ]);
    expect(noBasic.code, noBasic.all).toBe(0);
    expect(JSON.parse(noBasic.stdout).auth).toEqual({
      basic_secret: null,
      api_keys: true,
      forward_credential: true,
      credentials: null,
    });
    expect(await infer('model', basic('password-one'))).toBe(401);
    expect(await infer('model', `Bearer ${apiKey}`)).toBe(200);
  });

  it('without a change it is a usage error (exit 2) that prints the usage', async () => {
    const r = await cli(['deployments', 'update', 'model']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nothing to change');
    expect(r.stderr).toContain('modelgate deployments update NAME [--upstream URL]');
  });

  it('a bad value is refused by the CLI or the API with a clear message, nothing changed', async () => {
    const access = await cli(['deployments', 'update', 'model', '--access', 'open']);
    expect(access.code).toBe(2);
    const toggle = await cli(['deployments', 'update', 'model', '--api-keys', 'yes']);
    expect(toggle.code).toBe(2);
    const upstream = await cli(['deployments', 'update', 'model', '--upstream', 'ftp://nowhere']);
    expect(upstream.code).toBe(1);
    expect(upstream.stderr).toMatch(/error \[VALIDATION_FAILED\]|upstream/);
    const unknownSecret = await cli(['deployments', 'update', 'model', '--basic-secret', 'no-such-secret']);
    expect(unknownSecret.code).toBe(1);
    expect(unknownSecret.stderr).toMatch(/error \[RESOURCE_NOT_FOUND\]: .*no-such-secret/);
    const missing = await cli(['deployments', 'update', 'no-such-model', '--access', 'public']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
    const show = JSON.parse((await cli(['deployments', 'show', 'model', '-o', 'json'])).stdout);
    expect(show.access).toBe('protected');
    expect(show.upstream).toBe(second.url);
  });
});

describe('deploy of an existing name', () => {
  it('fails (exit 1) and says how to update or redeploy instead', async () => {
    const r = await cli(['deploy', 'model', '--upstream', first.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error [RESOURCE_CONFLICT]: A deployment named "model" already exists');
    expect(r.stderr).toContain('modelgate deployments update model [--upstream URL]');
    expect(r.stderr).toContain('modelgate redeploy model');
    // Nothing changed.
    const show = JSON.parse((await cli(['deployments', 'show', 'model', '-o', 'json'])).stdout);
    expect(show.upstream).toBe(second.url);
  });
});

describe('deploy --basic-secret with an unknown secret', () => {
  it('fails without --generate-secret, naming the secret and both ways out; nothing is created', async () => {
    const r = await cli(['deploy', 'typo', '--upstream', first.url, '--basic-secret', 'pw-onee']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('there is no secret named "pw-onee"');
    expect(r.stderr).toContain('--generate-secret');
    const list = JSON.parse((await cli(['secrets', 'list', '-o', 'json'])).stdout);
    expect(JSON.stringify(list)).not.toContain('pw-onee');
    expect((await cli(['deployments', 'show', 'typo'])).code).toBe(1);
  });

  it('uses an existing secret without asking', async () => {
    const r = await cli(['deploy', 'existing', '--upstream', first.url, '--basic-secret', 'pw-one']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).not.toContain('Generated value');
    expect(await infer('existing', basic('password-one'))).toBe(200);
  });

  it('with --generate-secret creates it and prints the value once', async () => {
    const r = await cli(['deploy', 'fresh', '--upstream', first.url, '--basic-secret', 'pw-new', '--generate-secret']);
    expect(r.code, r.all).toBe(0);
    const lines = r.stdout.split('\n');
    const value = lines[lines.findIndex((l) => l.startsWith('Generated value of secret pw-new')) + 1]!;
    expect(await infer('fresh', basic(value))).toBe(200);
  });
});
