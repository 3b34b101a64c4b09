import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { README, runSteps, type Step, steps } from './helpers/readme.js';

/**
 * Issue 22, acceptance 2: the README walked from top to bottom. Every ```sh block runs as written,
 * in the README's order, in one shell (so a variable set in one block is there in the next, as in
 * a reader's terminal), against one fresh node started as the README says, in a directory that
 * holds what a clone holds (examples/). Only the default addresses are swapped for the node's free
 * ports and `npx modelgate` for this build. Each command must succeed, except where the README
 * says it fails (`# → error [...]`, "exit 1"); what a comment says it prints is checked.
 *
 * Not run, because the test is them: the blocks that start the node (`npx modelgate start`, the
 * node this test starts) and `npm test`; and the replicas' start line, which names a PostgreSQL
 * host of the reader's (`cluster-replicas.test.ts` runs three replicas for real).
 */

const REPO = join(import.meta.dirname, '../../..');
const NOT_RUN = [
  'npm install && npx modelgate start',
  'npx modelgate start --demo',
  'npm test',
  [
    'export MODELGATE_MASTER_KEY=$(openssl rand -hex 32)   # once, shared by every replica',
    'npx modelgate start --database-url postgres://modelgate@db:5432/modelgate --inference-address http://0.0.0.0:8080',
  ].join('\n'),
];

/** Every ```sh block of the README, in order. */
function blocks(): string[][] {
  const out: string[][] = [];
  const re = /^```sh\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(README); m; m = re.exec(README)) out.push((m[1] ?? '').trimEnd().split('\n'));
  return out;
}

let node: NodeProcess;
beforeAll(async () => {
  node = await startNodeProcess(['--demo']);
  cpSync(join(REPO, 'examples'), join(node.cwd, 'examples'), { recursive: true });
});
afterAll(async () => {
  await node?.stop();
});

describe('the README, top to bottom', () => {
  it('has the blocks this test knows to leave out, and nothing else is skipped', () => {
    const all = blocks();
    expect(all.length).toBeGreaterThanOrEqual(10);
    const skipped = all.filter((b) => NOT_RUN.includes(b.join('\n').trim()));
    expect(skipped.map((b) => b.join('\n').trim()).sort()).toEqual([...NOT_RUN].sort());
  });

  it('every other command block runs as written and prints what the README says', { timeout: 300_000 }, async () => {
    const run: Step[] = blocks()
      .filter((b) => !NOT_RUN.includes(b.join('\n').trim()))
      .flatMap((b) => steps(b));
    expect(run.length).toBeGreaterThan(60);
    const result = await runSteps(run, {
      cwd: node.cwd,
      bin: BIN,
      urls: node.urls,
      checkStatus: true,
    });
    expect(result.failures, result.stderr.slice(-3000)).toEqual([]);
  });
});
