import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../src/cli/duration.js';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';

/**
 * `modelgate tokens create|list|delete` against a real node: a signed-in user makes a token
 * (printed once), lists it (never the secret), uses it as the CLI's own credential, deletes it.
 */
let node: NodeProcess;
let session: string;

async function cli(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) {
  return runCliToEnd([...args, '--endpoint', node.urls.management], { cwd: node.cwd, ...options });
}

beforeAll(async () => {
  node = await startNodeProcess();
  const password = 'erin keeps a long passphrase';
  expect((await cli(['users', 'create', 'erin'], { stdin: `${password}\n` })).code).toBe(0);
  session = (await cli(['sessions', 'create', '--username', 'erin'], { stdin: `${password}\n` })).stdout.trim();
});
afterAll(async () => {
  await node?.stop();
});

describe('tokens commands', () => {
  it('parseDuration reads 0, seconds and s/m/h/d units, and refuses anything else', () => {
    expect([
      parseDuration('0'),
      parseDuration('90s'),
      parseDuration('30m'),
      parseDuration('24h'),
      parseDuration('7d'),
    ]).toEqual([0, 90, 1800, 86_400, 604_800]);
    for (const bad of ['', '-1', '1.5h', '1w', 'h', '90']) expect(() => parseDuration(bad), bad).toThrow(/duration/);
  });

  it('api-keys roll prints a successor; the old key is listed as retiring', async () => {
    const made = await cli(['deploy', 'keyed', '--upstream', 'http://127.0.0.1:9/', '--api-keys', '1', '-o', 'json']);
    expect(made.code, made.all).toBe(0);
    const keys = JSON.parse((await cli(['api-keys', 'list', '--deployment', 'keyed', '-o', 'json'])).stdout).items;
    const rolled = await cli(['api-keys', 'roll', keys[0].id, '--grace', '1h', '-o', 'json']);
    expect(rolled.code, rolled.all).toBe(0);
    expect(JSON.parse(rolled.stdout)).toMatchObject({
      key: expect.stringMatching(/^mgk_/),
      predecessor: { id: keys[0].id },
    });
    const listed = await cli(['api-keys', 'list', '--deployment', 'keyed']);
    expect(listed.stdout).toContain('retiring');
  });

  it('create prints the token once; list shows prefixes; the token works as --api-token; delete ends it', async () => {
    const env = { MODELGATE_API_TOKEN: session };
    const made = await cli(['tokens', 'create', 'ci', '--ops', '--description', 'pipeline', '-o', 'json'], { env });
    expect(made.code, made.all).toBe(0);
    const { id, token } = JSON.parse(made.stdout) as { id: string; token: string };
    expect(token).toMatch(/^mgt_/);

    const table = await cli(['tokens', 'create', 'reader', '--all-deployments'], { env });
    expect(table.code, table.all).toBe(0);
    expect(table.stdout).toMatch(/^mgt_\w+\n$/);
    expect(table.stderr).toContain('endpoints:all');

    const listed = await cli(['tokens', 'list'], { env });
    expect(listed.code, listed.all).toBe(0);
    expect(listed.stdout).toContain('ci');
    expect(listed.stdout).toContain(`${token.slice(0, 8)}...`);
    expect(listed.stdout).not.toContain(token);
    const json = JSON.parse((await cli(['tokens', 'list', '-o', 'json'], { env })).stdout);
    expect(json.items.map((t: { name: string }) => t.name).sort()).toEqual(['ci', 'reader']);

    const who = await cli(['sessions', 'whoami', '-o', 'json', '--api-token', token]);
    expect(JSON.parse(who.stdout)).toMatchObject({ kind: 'user', user: 'erin', token: id });

    const none = await cli(['tokens', 'create', 'empty'], { env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('TOKEN_ACCESS_REQUIRED');
    const both = await cli(['tokens', 'create', 'x', '--all-deployments', '--deployment', 'a'], { env });
    expect(both.code).toBe(2);

    const rolled = await cli(['tokens', 'roll', 'ci', '--grace', '1h', '-o', 'json'], { env });
    expect(rolled.code, rolled.all).toBe(0);
    const successor = JSON.parse(rolled.stdout) as { id: string; token: string; predecessor: { id: string } };
    expect(successor.predecessor.id).toBe(id);
    const during = await cli(['tokens', 'list'], { env });
    expect(during.stdout).toMatch(/retiring \d{4}-/);
    expect((await cli(['sessions', 'whoami', '--api-token', token])).code).toBe(0);
    expect((await cli(['sessions', 'whoami', '--api-token', successor.token])).code).toBe(0);
    const badGrace = await cli(['tokens', 'roll', 'ci', '--grace', 'soon'], { env });
    expect(badGrace.code).toBe(2);

    const deleted = await cli(['tokens', 'delete', id], { env });
    expect(deleted.code, deleted.all).toBe(0);
    const after = await cli(['sessions', 'whoami', '--api-token', token]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('CREDENTIAL_UNKNOWN');
  }, 90_000);
});
