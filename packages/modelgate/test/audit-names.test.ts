import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeProcess, runCliToEnd, startNodeProcess } from './helpers/node-process.js';

/**
 * Issue 22, item 7: audit records name their actors. The API adds `actor_name` beside the id (a
 * username, an API token's `name (owner)`, an admin key's description) and `modelgate audit`
 * shows the name with the id.
 */

let node: NodeProcess;
const PASSWORD = 'a passphrase long enough';
const cli = (args: string[], env: Record<string, string> = {}, stdin?: string) =>
  runCliToEnd([...args, '--endpoint', node.urls.management], {
    cwd: node.cwd,
    env,
    ...(stdin === undefined ? {} : { stdin }),
  });

beforeAll(async () => {
  node = await startNodeProcess();
});
afterAll(async () => {
  await node?.stop();
});

describe('audit actors by name', () => {
  it('a user, their API token and an admin key each appear with a name beside the id', async () => {
    expect((await cli(['users', 'create', 'ada', '--admin'], {}, PASSWORD)).code).toBe(0);
    const session = (await cli(['sessions', 'create', '--username', 'ada'], {}, PASSWORD)).stdout.trim();
    expect((await cli(['groups', 'create', 'by-ada'], { MODELGATE_API_TOKEN: session })).code).toBe(0);
    const token = (
      await cli(['tokens', 'create', 'pipeline', '--ops'], { MODELGATE_API_TOKEN: session })
    ).stdout.trim();
    expect((await cli(['groups', 'create', 'by-token'], { MODELGATE_API_TOKEN: token })).code).toBe(0);
    const adminKey = (
      await runCliToEnd(['admin-key-create', '--description', 'ci pipeline'], { cwd: node.cwd })
    ).stdout.trim();
    expect((await cli(['groups', 'create', 'by-key'], { MODELGATE_API_TOKEN: adminKey })).code).toBe(0);

    const records = JSON.parse((await cli(['audit', '--action', 'group.create', '-o', 'json'])).stdout).items as {
      target_name: string;
      actor: string;
      actor_kind: string;
      actor_name: string | null;
    }[];
    const by = (target: string) => records.find((r) => r.target_name === target);
    expect(by('by-ada')).toMatchObject({
      actor_kind: 'user',
      actor: expect.stringMatching(/^usr_/),
      actor_name: 'ada',
    });
    expect(by('by-token')?.actor_name).toBe('ada');
    expect(by('by-key')).toMatchObject({ actor_kind: 'admin_key', actor_name: 'ci pipeline' });

    const table = (await cli(['audit', '--action', 'group.create'])).stdout;
    expect(table).toMatch(/user:ada \(usr_\w+\)\s+group\.create\s+by-ada/);
    expect(table).toMatch(/admin_key:ci pipeline \(\S+\)\s+group\.create\s+by-key/);
  });
});
