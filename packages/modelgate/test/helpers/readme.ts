import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

/** The repository README, which tests run parts of verbatim. */
export const README = readFileSync(join(import.meta.dirname, '../../../../README.md'), 'utf8');

/** One README command and the comment lines after it that say what it prints. */
export interface Step {
  command: string;
  expect: string[];
}

/** The lines of the first ```sh block after `heading` (and after `after`, when given). */
export function shellBlock(heading: string, after?: string): string[] {
  const section = README.slice(README.indexOf(heading));
  const start = after === undefined ? 0 : section.indexOf(after);
  const open = section.indexOf('```sh\n', start) + '```sh\n'.length;
  return section.slice(open, section.indexOf('```', open)).trimEnd().split('\n');
}

/**
 * A README block as steps: a command (its `\` continuation lines joined) and the comment lines
 * after it that say what it prints: `# 200` (the first line of output is that status), `# {...}`
 * (that JSON), `# data: ...` (a Server-Sent Events stream), `# → text` (the output contains text,
 * `…` standing for anything). Other comments are headings.
 */
export function steps(lines: readonly string[]): Step[] {
  const out: Step[] = [];
  let pending = '';
  for (const line of lines) {
    if (pending !== '') {
      pending += `\n${line}`;
      if (!line.endsWith('\\')) {
        out.push({ command: pending, expect: [] });
        pending = '';
      }
      continue;
    }
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const last = out.at(-1);
      if (last && /^# (\d{3}|\{|data:|→ )/.test(line)) last.expect.push(line.slice(2));
      continue;
    }
    if (line.endsWith('\\')) pending = line;
    else out.push({ command: line, expect: [] });
  }
  return out;
}

/** What a README step printed, and a description of each expectation it did not meet. */
export interface BlockRun {
  readonly outputs: string[];
  readonly failures: string[];
  readonly stderr: string;
}

/**
 * Runs README steps verbatim in one bash (`-e -o pipefail`), with only the default addresses
 * swapped for a test node's and `npx modelgate` for this build, and checks each expectation.
 */
export function runSteps(
  all: readonly Step[],
  options: { cwd: string; bin: string; urls: { inference: string; management: string }; env?: NodeJS.ProcessEnv },
): BlockRun {
  const marker = (i: number) => `@@step-${i}@@`;
  const script = all
    .map((s, i) => {
      const command = s.command
        .replaceAll('http://127.0.0.1:8080', options.urls.inference)
        .replaceAll('http://127.0.0.1:8081', options.urls.management)
        .replaceAll('npx modelgate', `node ${options.bin}`);
      return `echo '${marker(i)}'\n${command}`;
    })
    .join('\n');
  const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', `${script}\necho '@@end@@'`], {
    cwd: options.cwd,
    env: { ...process.env, MODELGATE_ENDPOINT: options.urls.management, ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const failures: string[] = [];
  if (!run.stdout.includes('@@end@@')) failures.push(`the block stopped early:\n${run.stdout}\n${run.stderr}`);
  const outputs = all.map((_, i) => {
    const at = run.stdout.indexOf(marker(i));
    if (at < 0) return '';
    const from = at + marker(i).length + 1;
    return run.stdout.slice(from, run.stdout.indexOf('@@', from)).trim();
  });
  all.forEach((step, i) => {
    const output = outputs[i] ?? '';
    for (const expected of step.expect) {
      if (!meets(output, expected))
        failures.push(`${step.command}\n  expected: ${expected}\n  printed: ${output.slice(0, 400)}`);
    }
  });
  return { outputs, failures, stderr: run.stderr };
}

function meets(output: string, expected: string): boolean {
  if (/^\d{3}/.test(expected)) return output.split('\n')[0] === expected.slice(0, 3);
  if (expected.startsWith('{')) {
    try {
      return isDeepStrictEqual(JSON.parse(output), JSON.parse(expected));
    } catch {
      return false;
    }
  }
  if (expected.startsWith('data:')) return /^data: \{/.test(output) && output.includes('data: [DONE]');
  const text = expected.slice(2).replace(/ \(.*\)$/, '');
  const pattern = text
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(pattern, 's').test(output);
}
