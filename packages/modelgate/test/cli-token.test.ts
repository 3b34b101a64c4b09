import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCredential } from '../src/kernel/credential.js';
import { type NodeProcess, runCliToEnd, startNodeProcess, tempDir } from './helpers/node-process.js';

/**
 * END TO END (issue 10): `modelgate token renew --type management|inference` wraps the token
 * API with the `API` key of key_file.json, against a real node.
 */

let node: NodeProcess;

const keyFile = () => JSON.parse(readFileSync(join(node.cwd, 'key_file.json'), 'utf8'));
const cli = (args: string[], cwd = node.cwd) => runCliToEnd([...args, '--endpoint', node.urls.management], { cwd });

async function status(url: string, key: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  node = await startNodeProcess();
});
afterAll(async () => {
  await node?.stop();
});

describe('modelgate token renew', () => {
  it('--type management prints the new key, the node rewrote the file, and only the new key works', async () => {
    const old = keyFile().management.key;
    const r = await cli(['token', 'renew', '--type', 'management']);
    expect(r.code, r.all).toBe(0);
    const printed = r.stdout.split('\n')[0];
    expect(printed).toMatch(/^mgm_[0-9A-Za-z]+$/);
    expect(printed).not.toBe(old);
    expect(keyFile().management.key).toBe(printed);
    expect(r.stderr).toContain('New management key, valid until');
    const whoami = `${node.urls.management}/api/v1/whoami`;
    expect(await status(whoami, printed!)).toBe(200);
    expect(await status(whoami, old)).toBe(401);
  });

  it('--type inference -o json prints TorchServe’s shape; the new inference key opens the data plane', async () => {
    const old = keyFile().inference.key;
    const r = await cli(['token', 'renew', '--type', 'inference', '-o', 'json']);
    expect(r.code, r.all).toBe(0);
    const body = JSON.parse(r.stdout);
    expect(Object.keys(body).sort()).toEqual(['expiration time', 'key', 'type']);
    expect(body.type).toBe('inference');
    expect(body.key).not.toBe(old);
    expect(keyFile().inference.key).toBe(body.key);
    // No deployment: 404 means the key passed, 401 that it did not.
    expect(await status(`${node.urls.inference}/nothing/x`, body.key)).toBe(404);
  });

  it('a missing or unknown --type is a usage error (exit 2) and renews nothing', async () => {
    const before = keyFile();
    expect((await cli(['token', 'renew'])).code).toBe(2);
    expect((await cli(['token', 'renew', '--type', 'API'])).code).toBe(2);
    expect(keyFile()).toEqual(before);
  });

  it('without a key file it says where it looked (exit 1)', async () => {
    const elsewhere = tempDir();
    const r = await cli(['token', 'renew', '--type', 'management'], elsewhere);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no "API" key in ${join(elsewhere, 'key_file.json')}`);
    expect(r.stderr).toContain('[CLI_NO_CREDENTIAL]');
  });

  it('an API key that is not this node’s is refused without echoing it', async () => {
    const elsewhere = tempDir();
    const fake = generateCredential('token_api_key');
    writeFileSync(join(elsewhere, 'key_file.json'), JSON.stringify({ API: { key: fake } }));
    const before = keyFile();
    const r = await cli(['token', 'renew', '--type', 'management'], elsewhere);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('401');
    expect(r.stderr).toContain('is not this node’s'.replace('’', "'"));
    expect(r.all).not.toContain(fake);
    expect(keyFile()).toEqual(before);
  });
});
