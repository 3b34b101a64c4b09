import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type NodeProcess, startNodeProcess } from './helpers/node-process.js';
import { type Step, shellBlock } from './helpers/readme.js';

/**
 * Acceptance 2 of issue 8: the README's Dataiku example ("Teams and permissions"), run verbatim
 * against a real node (only `npx modelgate` becomes this checkout's binary). A `# → text` comment
 * after a command is text its output (stdout and stderr) must contain.
 */
function exampleBlock(): string[] {
  return shellBlock('## Teams and permissions');
}

function steps(lines: string[]): Step[] {
  const out: Step[] = [];
  for (const line of lines) {
    if (line.startsWith('# → ')) out.at(-1)?.expect.push(line.slice(4));
    else if (line.trim() !== '' && !line.startsWith('#')) out.push({ command: line, expect: [] });
  }
  return out;
}

let node: NodeProcess;
beforeAll(async () => {
  node = await startNodeProcess();
});
afterAll(async () => {
  await node?.stop();
});

describe('README: teams and permissions (the Dataiku example)', () => {
  it('data scientists deploy to dev but get 403 on prod; ops deploys to prod; fraud is invisible outside its team', () => {
    const all = steps(exampleBlock());
    expect(all.filter((s) => s.expect.length > 0).length).toBeGreaterThanOrEqual(6);
    const marker = (i: number) => `@@step-${i}@@`;
    // Each step's output (both streams) lands between markers; a failing step does not stop the rest.
    const script = all
      .map((s, i) => `echo '${marker(i)}'\n{ ${s.command.replaceAll('npx modelgate', `node ${BIN}`)} ; } 2>&1`)
      .join('\n');
    const run = spawnSync('bash', ['-c', `${script}\necho '@@end@@'`], {
      cwd: node.cwd,
      env: { ...process.env, MODELGATE_ENDPOINT: node.urls.management, MODELGATE_API_TOKEN: '' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(run.stdout, run.stderr).toContain('@@end@@');
    all.forEach((step, i) => {
      const from = run.stdout.indexOf(marker(i)) + marker(i).length + 1;
      const output = run.stdout.slice(from, run.stdout.indexOf('@@', from));
      for (const expected of step.expect) expect(output, step.command).toContain(expected);
      // Setup steps must succeed: only steps that expect a refusal may print one.
      if (!step.expect.some((e) => /^\d{3} /.test(e))) expect(output, step.command).not.toMatch(/\[CLI_|\[INTERNAL/);
    });
  }, 180_000);
});
