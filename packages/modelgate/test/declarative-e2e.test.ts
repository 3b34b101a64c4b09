import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/**
 * END TO END: `modelgate apply | diff | export` against a real node, through the CLI and the
 * management API. Every command's output (and the node's log) is checked for the secret values.
 */

let node: NodeProcess;
let upstream: TestUpstream;
let upstreamUrl: string;
const ENV_SECRET = `env-${randomUUID()}`;
const FILE_SECRET = `file-${randomUUID()}`;
const INLINE_SECRET = `inline-${randomUUID()}`;
const outputs: string[] = [];

async function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  const res = await runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...options });
  outputs.push(res.all);
  return res;
}

function write(name: string, text: string): string {
  const path = join(node.cwd, name);
  writeFileSync(path, text);
  return path;
}

/**
 * Management API writes the node has logged so far. A marker request is sent and awaited in
 * the log first, so every earlier line has arrived.
 */
async function apiWrites(): Promise<number> {
  const marker = `mark-${randomUUID()}`;
  await fetch(`${node.urls.management}/api/v1/whoami`, { headers: { 'x-request-id': marker } }).then((r) =>
    r.arrayBuffer(),
  );
  await node.waitFor(new RegExp(marker));
  return node.lines.filter((l) => l.includes('"listener":"management"') && /"method":"(POST|PUT|PATCH|DELETE)"/.test(l))
    .length;
}

async function infer(deployment: string, authorization?: string): Promise<number> {
  const res = await fetch(`${node.urls.inference}/${deployment}/predict`, {
    headers: authorization ? { authorization } : {},
  });
  await res.arrayBuffer();
  return res.status;
}

const basic = (password: string) => `Basic ${Buffer.from(`modelgate:${password}`).toString('base64')}`;

async function deploymentNames(): Promise<string[]> {
  const res = await cli(['deployments', 'list', '-o', 'json']);
  return (JSON.parse(res.stdout) as { items: { name: string }[] }).items.map((d) => d.name);
}

beforeAll(async () => {
  upstream = await recordingUpstream('model');
  upstreamUrl = upstream.url;
  node = await startNodeProcess();
});

afterAll(async () => {
  await node?.stop();
  await upstream?.close();
});

describe('modelgate apply / diff / export against a real node', () => {
  it('the short form deploys with `modelgate deploy` defaults; diff exits 1 before and 0 after; a second apply is a no-op', async () => {
    const file = write(
      'short.yaml',
      `deployments:\n  - {name: open, upstream: ${upstreamUrl}, access: public}\n  - {name: closed, upstream: ${upstreamUrl}}\n`,
    );
    const before = await cli(['diff', '-f', file]);
    expect(before.code, before.all).toBe(1);
    expect(before.stdout).toContain('+ create deployment open');

    const first = await cli(['apply', '-f', file]);
    expect(first.code, first.all).toBe(0);
    expect(first.stdout).toContain('Applied');
    expect(await infer('open')).toBe(200);
    expect(await infer('closed')).toBe(401); // protected, as `deploy` makes it by default
    const shown = JSON.parse((await cli(['deployments', 'show', 'closed', '-o', 'json'])).stdout);
    expect(shown).toMatchObject({ infrastructure: 'default', service: 'closed', version: '1', access: 'protected' });

    const after = await cli(['diff', '-f', file]);
    expect(after.code, after.all).toBe(0);
    expect(after.stdout).toContain('No changes');

    const writes = await apiWrites();
    const second = await cli(['apply', '-f', file, '-o', 'json']);
    expect(second.code, second.all).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ changes: [], applied: 0 });
    const text = await cli(['apply', '-f', file]);
    expect(text.stdout).toContain('No changes');
    expect(await apiWrites()).toBe(writes);
  });

  it('the full form: secrets from env and file open Basic, API key counts are minimums, values never printed', async () => {
    write('pw.txt', `${FILE_SECRET}\n`);
    const file = write(
      'full.yaml',
      [
        'version: 1',
        'infrastructures: [{name: prod, description: production}]',
        'secrets:',
        '  - {name: env-pw, from_env: DECL_TEST_PW}',
        '  - {name: file-pw, from_file: pw.txt}',
        'services:',
        '  - name: sentiment',
        '    versions:',
        '      - {version: "1", auth: {basic_secret: env-pw}, api_keys: 1}',
        'deployments:',
        `  - {name: senti, upstream: ${upstreamUrl}, infrastructure: prod, service: sentiment, version: "1", api_keys: 2}`,
        `  - {name: filed, upstream: ${upstreamUrl}, auth: {basic_secret: file-pw, api_keys: false}}`,
      ].join('\n'),
    );
    const missing = await cli(['apply', '-f', file]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('DECL_TEST_PW is not set');

    const applied = await cli(['apply', '-f', file, '-o', 'json'], { env: { DECL_TEST_PW: ENV_SECRET } });
    expect(applied.code, applied.all).toBe(0);
    expect(applied.stdout).not.toMatch(/mgk_/);
    expect(await infer('senti', basic(ENV_SECRET))).toBe(200);
    expect(await infer('filed', basic(FILE_SECRET))).toBe(200);
    expect(await infer('filed', basic(ENV_SECRET))).toBe(401);

    const keys = JSON.parse((await cli(['api-keys', 'list', '--deployment', 'senti', '-o', 'json'])).stdout);
    expect(keys.items).toHaveLength(2);
    const again = await cli(['apply', '-f', file], { env: { DECL_TEST_PW: ENV_SECRET } });
    expect(again.stdout).toContain('No changes');
  });

  it('a changed description is updated, and diff shows it first', async () => {
    const file = write('described.yaml', 'infrastructures: [{name: prod, description: "production, eu-west"}]\n');
    const diff = await cli(['diff', '-f', file]);
    expect(diff.code, diff.all).toBe(1);
    expect(diff.stdout).toContain('~ update infrastructure prod');
    expect((await cli(['apply', '-f', file])).code).toBe(0);
    const state = JSON.parse((await cli(['export', '-o', 'json'])).stdout);
    expect(state.infrastructures).toContainEqual({ name: 'prod', description: 'production, eu-west' });
    expect((await cli(['diff', '-f', file])).code).toBe(0);
  });

  it('external OIDC settings in auth are applied, exported, and a change to them is a difference', async () => {
    const file = (audience: string) =>
      write(
        `oidc-${audience}.yaml`,
        [
          'services:',
          '  - name: oidc-svc',
          '    versions: [{version: "1", auth: {oidc: {issuer: "https://idp.example", audiences: ["svc"]}}}]',
          'deployments:',
          '  - name: closed',
          `    upstream: ${upstreamUrl}`,
          `    auth: {oidc: {issuer: "https://idp.example", audiences: ["${audience}"]}}`,
        ].join('\n'),
      );
    const first = await cli(['apply', '-f', file('api-a')]);
    expect(first.code, first.all).toBe(0);
    expect(first.stdout).toContain('~ update deployment closed');
    expect((await cli(['diff', '-f', file('api-a')])).code).toBe(0);
    const exported = JSON.parse((await cli(['export', '-o', 'json'])).stdout);
    const closed = exported.deployments.find((d: { name: string }) => d.name === 'closed');
    expect(closed.auth.oidc).toMatchObject({ issuer: 'https://idp.example', audiences: ['api-a'] });
    const service = exported.services.find((x: { name: string }) => x.name === 'oidc-svc');
    expect(service.versions[0].auth.oidc).toMatchObject({ issuer: 'https://idp.example', audiences: ['svc'] });

    const diff = await cli(['diff', '-f', file('api-b')]);
    expect(diff.code, diff.all).toBe(1);
    expect(diff.stdout).toContain('api-b');
    expect((await cli(['apply', '-f', file('api-b')])).code).toBe(0);
    const shown = JSON.parse((await cli(['deployments', 'show', 'closed', '-o', 'json'])).stdout);
    expect(shown.auth.oidc.audiences).toEqual(['api-b']);
    expect((await cli(['diff', '-f', file('api-b')])).code).toBe(0);
  });

  it('inline values only with --allow-inline-secrets', async () => {
    const file = write('inline.yaml', `secrets:\n  - {name: inline-pw, value: ${INLINE_SECRET}}\n`);
    const writes = await apiWrites();
    const refused = await cli(['apply', '-f', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--allow-inline-secrets');
    expect(await apiWrites()).toBe(writes);
    const accepted = await cli(['apply', '-f', file, '--allow-inline-secrets']);
    expect(accepted.code, accepted.all).toBe(0);
    expect(accepted.stdout).toContain('+ create secret inline-pw');
  });

  it('export | apply round-trips: applying the export changes nothing and writes nothing', async () => {
    const exported = await cli(['export']);
    expect(exported.code, exported.all).toBe(0);
    expect(exported.stdout).toContain('name: senti');
    expect(exported.stdout).toContain('api_keys: 2');
    expect(exported.stdout).not.toMatch(/mg[a-z]_[A-Za-z0-9]{8}/); // counts, never a key
    const pruneDiff = await cli(['diff', '--prune', '-f', '-'], { stdin: exported.stdout });
    expect(pruneDiff.code, pruneDiff.all).toBe(0);
    const writes = await apiWrites();
    const applied = await cli(['apply', '-f', '-'], { stdin: exported.stdout });
    expect(applied.code, applied.all).toBe(0);
    expect(applied.stdout).toContain('No changes');
    const json = await cli(['export', '-o', 'json']);
    const diffJson = await cli(['diff', '-f', '-', '-o', 'json'], { stdin: json.stdout });
    expect(diffJson.code, diffJson.all).toBe(0);
    expect(JSON.parse(diffJson.stdout)).toEqual({ changes: [] });
    expect(await apiWrites()).toBe(writes);
  });

  it('an invalid file reports every problem at once, exits non-zero and changes nothing', async () => {
    const file = write(
      'bad.yaml',
      [
        'grants: []',
        'deployments:',
        '  - {name: Bad_Name, upstream: ftp://x}',
        `  - {name: open, upstream: ${upstreamUrl}, access: everyone}`,
        '  - {name: ok-name, upstream: http://user:pass@127.0.0.1:1, api_keys: 1000}',
      ].join('\n'),
    );
    const writes = await apiWrites();
    const names = await deploymentNames();
    const res = await cli(['apply', '-f', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('[APPLY_FILE_INVALID]');
    for (const path of [
      'grants:',
      'deployments[0].name:',
      'deployments[0].upstream:',
      'deployments[1].access:',
      'deployments[2].upstream: must not carry credentials',
      'deployments[2].api_keys:',
    ]) {
      expect(res.stderr).toContain(path);
    }
    expect(res.stderr).not.toContain('pass@');
    // An alias bomb is refused by the YAML reader's alias limit: a clear problem, not a hang or a crash.
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 12; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    const exploded = await cli(['apply', '-f', '-'], { stdin: bomb.join('\n') });
    expect(exploded.code, exploded.all).toBe(2);
    expect(exploded.stderr).toContain('[APPLY_FILE_INVALID]');
    expect(exploded.stderr).toContain('stdin: not valid YAML');
    const conflict = write('conflict.yaml', 'services:\n  - name: sentiment\n    versions: [{version: "1"}]\n');
    const immutable = await cli(['apply', '-f', conflict]);
    expect(immutable.code).toBe(2);
    expect(immutable.stderr).toContain('versions are immutable');
    expect(await apiWrites()).toBe(writes);
    expect(await deploymentNames()).toEqual(names);
  });

  it('updates what differs; without --prune nothing is deleted; with --prune what is absent goes', async () => {
    const file = write(
      'keep.yaml',
      `deployments:\n  - {name: open, upstream: ${upstreamUrl}, access: protected, enabled: false}\n`,
    );
    const plain = await cli(['apply', '-f', file]);
    expect(plain.code, plain.all).toBe(0);
    expect(plain.stdout).toContain('~ update deployment open');
    expect(plain.stdout).not.toContain('- delete');
    expect(await infer('open')).toBe(503);
    expect((await deploymentNames()).sort()).toEqual(['closed', 'filed', 'open', 'senti']);

    // A failed `export | apply --prune -f -` pipes nothing: refused, not read as "delete everything".
    const empty = await cli(['apply', '--prune', '-f', '-'], { stdin: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('with --prune that would delete everything');
    expect((await deploymentNames()).sort()).toEqual(['closed', 'filed', 'open', 'senti']);

    const diff = await cli(['diff', '-f', file, '--prune']);
    expect(diff.code).toBe(1);
    expect(diff.stdout).toContain('- delete deployment senti');
    const pruned = await cli(['apply', '-f', file, '--prune']);
    expect(pruned.code, pruned.all).toBe(0);
    expect(await deploymentNames()).toEqual(['open']);
    expect(await infer('senti', basic(ENV_SECRET))).toBe(404);
    const state = JSON.parse((await cli(['export', '-o', 'json'])).stdout);
    expect(state.secrets).toEqual([]);
    expect(state.services.map((s: { name: string }) => s.name)).toEqual(['open']);
    expect(state.infrastructures.map((s: { name: string }) => s.name)).toEqual(['default']);
    const after = await cli(['diff', '-f', file, '--prune']);
    expect(after.code, after.all).toBe(0);
  });

  it('apply goes through the management API: a wrong credential is refused and changes nothing', async () => {
    const file = write('other.yaml', `deployments:\n  - {name: intruder, upstream: ${upstreamUrl}, access: public}\n`);
    const writes = await apiWrites();
    const res = await cli(['apply', '-f', file, '--api-token', 'mgm_notavalidkeyatall0000000000000000']);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/error \[CREDENTIAL_(MALFORMED|UNKNOWN)\]: .*\(HTTP 401/);
    expect(await deploymentNames()).toEqual(['open']);
    // Only the refused read reached the API; no write.
    expect(await apiWrites()).toBe(writes);
  });

  it('no secret value ever appeared in any command output or in the node log', () => {
    const everything = [...outputs, node.output()].join('\n');
    for (const value of [ENV_SECRET, FILE_SECRET, INLINE_SECRET]) expect(everything).not.toContain(value);
  });
});
