import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { type Step, shellBlock } from './helpers/readme.js';

/**
 * Runs the README's "Try it" block verbatim (only the addresses are swapped for this node's free
 * ports) and checks the output of each command against the comment that follows it.
 */
function demoBlock(): string[] {
  return shellBlock('## Try it', 'In a second terminal');
}

function steps(lines: string[]): Step[] {
  const out: Step[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      // A comment after a command is its expected output; before any command, a heading.
      const last = out.at(-1);
      if (last && /^# (\d{3}|\{|data:)/.test(line)) last.expect.push(line.slice(2));
      continue;
    }
    out.push({ command: line, expect: [] });
  }
  return out;
}

const REPO = join(import.meta.dirname, '../../..');

let node: NodeProcess;
beforeAll(async () => {
  node = await startNodeProcess(['--demo']);
});
afterAll(async () => {
  await node?.stop();
});

describe('README quick start', () => {
  it('works verbatim against a running node', () => {
    const all = steps(demoBlock());
    expect(all.length).toBeGreaterThan(10);
    const marker = (i: number) => `@@step-${i}@@`;
    const script = all
      .map((s, i) => {
        const command = s.command
          .replaceAll('http://127.0.0.1:8080', node.urls.inference)
          .replaceAll('npx modelgate', `node ${BIN}`);
        return `echo '${marker(i)}'\n${command}`;
      })
      .join('\n');
    const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', `${script}\necho '@@end@@'`], {
      cwd: node.cwd,
      env: { ...process.env, MODELGATE_ENDPOINT: node.urls.management },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stdout, run.stderr).toContain('@@end@@');
    all.forEach((step, i) => {
      const from = run.stdout.indexOf(marker(i)) + marker(i).length + 1;
      const to = run.stdout.indexOf('@@', from);
      const output = run.stdout.slice(from, to).trim();
      for (const expected of step.expect) {
        const label = `${step.command}\n→ ${output.slice(0, 300)}`;
        if (/^\d{3}/.test(expected)) expect(output.split('\n')[0], label).toBe(expected.slice(0, 3));
        else if (expected.startsWith('{')) expect(JSON.parse(output), label).toEqual(JSON.parse(expected));
        else {
          expect(output, label).toMatch(/^data: \{/);
          expect(output, label).toContain('data: [DONE]');
        }
      }
    });
  });
});

describe('after the quick start', () => {
  it('examples/deployments.yaml applies on the same node (the quick start names nothing it declares)', () => {
    const run = spawnSync(process.execPath, [BIN, 'apply', '-f', join(REPO, 'examples/deployments.yaml')], {
      cwd: node.cwd,
      env: { ...process.env, MODELGATE_ENDPOINT: node.urls.management, SENTIMENT_PASSWORD: 'example-password' },
      encoding: 'utf8',
    });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('+ create deployment sentiment');
  });
});
