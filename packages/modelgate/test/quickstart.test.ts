import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { runSteps, shellBlock, steps } from './helpers/readme.js';

/**
 * Runs the README's command blocks verbatim against one node started as the README says
 * (`modelgate start --demo`; only the addresses are swapped for this node's free ports), in the
 * README's order, and checks the output of each command against the comment that follows it.
 */

const REPO = join(import.meta.dirname, '../../..');

let node: NodeProcess;
beforeAll(async () => {
  node = await startNodeProcess(['--demo']);
});
afterAll(async () => {
  await node?.stop();
});

async function run(lines: string[]) {
  const all = steps(lines);
  const result = await runSteps(all, { cwd: node.cwd, bin: BIN, urls: node.urls });
  expect(result.failures, result.stderr).toEqual([]);
  return { all, ...result };
}

describe('README quick start', () => {
  it('"Try it" works verbatim against a running node', async () => {
    const { all } = await run(shellBlock('## Try it', 'In a second terminal'));
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter((s) => s.expect.length > 0).length).toBeGreaterThanOrEqual(7);
  });

  it('examples/deployments.yaml applies on the same node (the quick start names nothing it declares)', () => {
    const applied = spawnSync(process.execPath, [BIN, 'apply', '-f', join(REPO, 'examples/deployments.yaml')], {
      cwd: node.cwd,
      env: { ...process.env, MODELGATE_ENDPOINT: node.urls.management, SENTIMENT_PASSWORD: 'example-password' },
      encoding: 'utf8',
    });
    expect(applied.status, applied.stdout + applied.stderr).toBe(0);
    expect(applied.stdout).toContain('+ create deployment sentiment');
  });
});

describe('README API tokens', () => {
  it("the first user's path runs as written: an admin, a session, a token by API and by CLI that opens demo", async () => {
    const { all } = await run(shellBlock('## API tokens'));
    expect(all.some((s) => s.command.includes('users create ada --admin'))).toBe(true);
    expect(all.filter((s) => s.expect.length > 0).length).toBeGreaterThanOrEqual(3);
  });
});
