import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson } from './helpers/http.js';
import { deploy, startTestNode, type TestNode } from './helpers/in-process-node.js';
import { runCliToEnd } from './helpers/node-process.js';
import { recordingUpstream, type TestUpstream } from './helpers/upstreams.js';

/** `modelgate jwt issue|revoke` and `modelgate signing-keys list|rotate` against a real node. */
describe('platform JWT commands', () => {
  let t: TestNode;
  let up: TestUpstream;
  beforeAll(async () => {
    t = await startTestNode();
    up = await recordingUpstream('up');
    await deploy(t, { name: 'a', upstream: up.url, access: 'protected' });
  });
  afterAll(async () => {
    await t?.close();
    await up?.close();
  });

  const cli = (args: string[]) =>
    runCliToEnd([...args, '--endpoint', t.node.urls.management], { env: { MODELGATE_API_TOKEN: t.keys.management } });

  it('issues a token that opens the deployment, then revokes it by jti', async () => {
    const issued = await cli(['jwt', 'issue', '--deployment', 'a', '-o', 'json']);
    expect(issued.code, issued.stderr).toBe(0);
    const { token, jti } = JSON.parse(issued.stdout) as { token: string; jti: string };
    expect((await getJson(`${t.node.urls.inference}/a/x`, token)).status).toBe(200);
    const revoked = await cli(['jwt', 'revoke', '--jti', jti]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain('Revoked');
    expect((await getJson(`${t.node.urls.inference}/a/x`, token)).status).toBe(401);
  });

  it('prints the token first in text output, and refuses a target that is both or neither', async () => {
    const text = await cli(['jwt', 'issue', '--infrastructure', 'default']);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n')[0]).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const both = await cli(['jwt', 'issue', '--deployment', 'a', '--infrastructure', 'default']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--deployment');
    expect((await cli(['jwt', 'revoke'])).code).toBe(2);
  });

  it('rotates the signing key and lists both keys', async () => {
    const rotated = await cli(['signing-keys', 'rotate', '-o', 'json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const { kid } = JSON.parse(rotated.stdout) as { kid: string };
    const list = await cli(['signing-keys', 'list']);
    expect(list.stdout).toContain(kid);
    expect(list.stdout.trim().split('\n')).toHaveLength(3);
  });
});
