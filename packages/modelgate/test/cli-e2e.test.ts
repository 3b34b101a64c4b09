import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';

/**
 * END TO END: the CLI against a real `modelgate start` (real management routes in
 * src/api/routes/*, real gateway). The CLI runs in the node's working directory, so it finds
 * its credential in the key_file.json the node wrote there; nothing else is configured.
 * test/cli-commands.test.ts pins the same commands against a fake of the API contract.
 */

let node: NodeProcess;
let upstream: Server;
let upstreamUrl: string;

const basic = (password: string) => `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;

async function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  return runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...options });
}

/** A model call through the gateway; resolves with the status. */
async function infer(deployment: string, authorization?: string): Promise<number> {
  const res = await fetch(`${node.urls.inference}/${deployment}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: '{"text":"hi"}',
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"label":"positive"}'));
  });
  await new Promise<void>((res) => upstream.listen(0, '127.0.0.1', res));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  node = await startNodeProcess();
});

afterAll(async () => {
  await node?.stop();
  await new Promise((res) => upstream?.close(res));
});

describe('CLI end to end against a real node (credential from ./key_file.json)', () => {
  let apiKeys: { id: string; key: string }[] = [];

  it('secrets create --value - then deploy with --basic-secret and --api-keys: both credentials open the deployment', async () => {
    const secret = await cli(['secrets', 'create', 'demo-pw', '--value', '-'], { stdin: 'first-password\n' });
    expect(secret.code, secret.all).toBe(0);
    expect(secret.stdout).toContain('Created secret demo-pw');

    const deployed = await cli([
      'deploy',
      'demo',
      '--upstream',
      upstreamUrl,
      '--access',
      'protected',
      '--basic-secret',
      'demo-pw',
      '--api-keys',
      '2',
      '-o',
      'json',
    ]);
    expect(deployed.code, deployed.all).toBe(0);
    const res = JSON.parse(deployed.stdout) as {
      deployment: Record<string, unknown>;
      created: string[];
      generated_secret?: unknown;
      api_keys: { id: string; key: string; deployment: string }[];
    };
    expect(res.deployment).toMatchObject({
      name: 'demo',
      upstream: upstreamUrl,
      access: 'protected',
      enabled: true,
      revision: 1,
      infrastructure: 'default',
      service: 'demo',
      auth: { basic_secret: 'demo-pw', api_keys: true, forward_credential: false },
    });
    expect(res.created.length).toBeGreaterThan(0);
    expect(res.generated_secret).toBeUndefined();
    expect(res.api_keys).toHaveLength(2);
    apiKeys = res.api_keys;

    expect(await infer('demo')).toBe(401);
    expect(await infer('demo', `Bearer ${apiKeys[0]!.key}`)).toBe(200);
    expect(await infer('demo', basic('first-password'))).toBe(200);
  });

  it('deploy with a missing Basic secret and --generate-secret generates it and prints it once; table output', async () => {
    const r = await cli(['deploy', 'gen', '--upstream', upstreamUrl, '--basic-secret', 'gen-pw', '--generate-secret']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toContain('Deployed gen (revision 1), served at /gen/');
    expect(r.stdout).toMatch(/Generated value of secret gen-pw .*shown once/);
    const lines = r.stdout.split('\n');
    const value = lines[lines.findIndex((l) => l.startsWith('Generated value of secret gen-pw')) + 1]!;
    expect(value.length).toBeGreaterThanOrEqual(16);
    expect(await infer('gen', basic(value))).toBe(200);
  });

  it('a public deployment needs no credential', async () => {
    const r = await cli(['deploy', 'open', '--upstream', upstreamUrl, '--access', 'public']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).not.toContain('shown once');
    expect(await infer('open')).toBe(200);
  });

  it('deployments list, show; a second deploy of a name is a 409', async () => {
    const table = await cli(['deployments', 'list']);
    expect(table.code, table.all).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+ACCESS\s+ENABLED\s+REVISION\s+UPSTREAM\s+SERVICE\s+INFRASTRUCTURE$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^demo\\s+protected\\s+yes\\s+1\\s+${upstreamUrl}\\s+demo@1\\s+default$`, 'm'),
    );
    const json = await cli(['deployments', 'list', '-o', 'json']);
    const names = (JSON.parse(json.stdout) as { items: { name: string }[] }).items.map((d) => d.name);
    expect(names.sort()).toEqual(['demo', 'gen', 'open']);

    const show = await cli(['deployments', 'show', 'demo']);
    expect(show.code, show.all).toBe(0);
    expect(show.stdout).toMatch(/^path:\s+\/demo\/$/m);

    const again = await cli(['deploy', 'demo', '--upstream', upstreamUrl]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error \[RESOURCE_CONFLICT\]/);
  });

  it('disable → 503 on the data plane; enable → served again', async () => {
    const off = await cli(['deployments', 'disable', 'demo']);
    expect(off.code, off.all).toBe(0);
    expect(await infer('demo', `Bearer ${apiKeys[0]!.key}`)).toBe(503);
    const on = await cli(['deployments', 'enable', 'demo', '-o', 'json']);
    expect(on.code, on.all).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ name: 'demo', enabled: true });
    expect(await infer('demo', `Bearer ${apiKeys[0]!.key}`)).toBe(200);
  });

  it('secrets update changes nothing until redeploy (G4)', async () => {
    const updated = await cli(['secrets', 'update', 'demo-pw', '--value', 'second-password']);
    expect(updated.code, updated.all).toBe(0);
    expect(updated.stdout).toContain('modelgate redeploy');
    expect(await infer('demo', basic('first-password'))).toBe(200);
    expect(await infer('demo', basic('second-password'))).toBe(401);

    const redeployed = await cli(['redeploy', 'demo', '-o', 'json']);
    expect(redeployed.code, redeployed.all).toBe(0);
    expect(JSON.parse(redeployed.stdout)).toMatchObject({ name: 'demo', revision: 2 });
    expect(await infer('demo', basic('second-password'))).toBe(200);
    expect(await infer('demo', basic('first-password'))).toBe(401);
  });

  it('secrets list shows names only; delete an unused secret', async () => {
    const made = await cli(['secrets', 'create', 'unused', '--generate', '-o', 'json']);
    expect(made.code, made.all).toBe(0);
    const { value } = JSON.parse(made.stdout) as { value: string };
    expect(value.length).toBeGreaterThanOrEqual(16);

    const listed = await cli(['secrets', 'list']);
    expect(listed.code, listed.all).toBe(0);
    expect(listed.stdout).toMatch(/^NAME\s+CREATED\s+UPDATED$/m);
    for (const name of ['demo-pw', 'gen-pw', 'unused']) expect(listed.stdout).toMatch(new RegExp(`^${name}\\s`, 'm'));
    expect(listed.all).not.toContain('second-password');
    expect(listed.all).not.toContain(value);

    const deleted = await cli(['secrets', 'delete', 'unused']);
    expect(deleted.code, deleted.all).toBe(0);
    const after = await cli(['secrets', 'list', '-o', 'json']);
    expect((JSON.parse(after.stdout) as { items: { name: string }[] }).items.map((s) => s.name)).not.toContain(
      'unused',
    );
  });

  it('api-keys list (prefixes only), reveal, create, delete → the next request with that key is 401', async () => {
    const listed = await cli(['api-keys', 'list', '--deployment', 'demo']);
    expect(listed.code, listed.all).toBe(0);
    for (const k of apiKeys) {
      expect(listed.stdout).toContain(k.id);
      expect(listed.stdout).not.toContain(k.key);
    }

    const revealed = await cli(['api-keys', 'reveal', apiKeys[1]!.id]);
    expect(revealed.code, revealed.all).toBe(0);
    expect(revealed.stdout).toBe(`${apiKeys[1]!.key}\n`);

    const created = await cli(['api-keys', 'create', '--deployment', 'demo', '--description', 'ci', '-o', 'json']);
    expect(created.code, created.all).toBe(0);
    const [fresh] = (JSON.parse(created.stdout) as { api_keys: { key: string; description: string }[] }).api_keys;
    expect(fresh).toMatchObject({ description: 'ci', deployment: 'demo' });
    expect(await infer('demo', `Bearer ${fresh!.key}`)).toBe(200);

    expect(await infer('demo', `Bearer ${apiKeys[0]!.key}`)).toBe(200);
    const deleted = await cli(['api-keys', 'delete', apiKeys[0]!.id]);
    expect(deleted.code, deleted.all).toBe(0);
    expect(await infer('demo', `Bearer ${apiKeys[0]!.key}`)).toBe(401);
    expect(await infer('demo', `Bearer ${apiKeys[1]!.key}`)).toBe(200);
  });

  it('failures: unknown deployment → 404, bad --api-token → 401, both exit 1 and never print the token', async () => {
    const missing = await cli(['deployments', 'show', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error \[RESOURCE_NOT_FOUND\]/);

    const bad = 'mgt_notARealTokenNotARealToken000000';
    const refused = await cli(['deployments', 'list', '--api-token', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error \[CREDENTIAL_/);
    expect(refused.stderr).toContain('credential from --api-token');
    expect(refused.all).not.toContain(bad);
  });

  it('deployments delete → the gateway answers 404 for it', async () => {
    const r = await cli(['deployments', 'delete', 'open']);
    expect(r.code, r.all).toBe(0);
    expect(r.stdout).toBe('Deleted deployment open\n');
    expect(await infer('open')).toBe(404);
  });
});
