import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

/** The repository README, which tests run parts of verbatim. */
export const README = readFileSync(join(import.meta.dirname, '../../../../README.md'), 'utf8');

/** One README command and the comment lines after it that say what it prints. */
export interface Step {
  command: string;
  expect: string[];
  /** The comment on the command's own line, if any (`cmd   # what it does`). */
  note?: string;
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
    else {
      // A comment after two spaces is the README's note on the command; `{...}` is its output.
      const note = /\s{2,}# (.*)$/.exec(line)?.[1];
      if (note === undefined) out.push({ command: line, expect: [] });
      else out.push({ command: line, expect: note.startsWith('{') ? [note] : [], note });
    }
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
export async function runSteps(
  all: readonly Step[],
  options: {
    cwd: string;
    bin: string;
    urls: { inference: string; management: string; metrics?: string };
    env?: NodeJS.ProcessEnv;
    /**
     * Run on after a failed command and report it, rather than stop (`bash -e`): a command may
     * fail only where the README says so (`# → error [...]`, a note saying "exit 1"); one that
     * never ends by itself (`--follow`) runs for 3 s.
     */
    checkStatus?: boolean;
  },
): Promise<BlockRun> {
  const marker = (i: number) => `@@step-${i}@@`;
  const script = all
    .map((s, i) => {
      let command = s.command
        .replaceAll('http://127.0.0.1:8080', options.urls.inference)
        .replaceAll('http://127.0.0.1:8081', options.urls.management)
        .replaceAll('http://127.0.0.1:8082', options.urls.metrics ?? 'http://127.0.0.1:8082')
        .replaceAll('npx modelgate', `node ${options.bin}`);
      if (!options.checkStatus) return `echo '${marker(i)}'\n${command}`;
      if (failsOnPurpose(s)) command = `${command.replace(/\s{2,}# .*$/, '')} 2>&1`;
      if (/ --follow\b/.test(command)) command = `timeout 3 ${command}`;
      return `echo '${marker(i)}'\n${command}\necho "@@status-${i}=$?@@"`;
    })
    .join('\n');
  const flags = options.checkStatus ? ['-o', 'pipefail'] : ['-e', '-o', 'pipefail'];
  // Asynchronous, so the test worker keeps answering its runner while the block runs.
  const run = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
    const child = spawn('bash', [...flags, '-c', `${script}\necho '@@end@@'`], {
      cwd: options.cwd,
      env: { ...process.env, MODELGATE_ENDPOINT: options.urls.management, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill(), 240_000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr });
    });
  });
  const failures: string[] = [];
  if (!run.stdout.includes('@@end@@'))
    failures.push(`the block stopped early:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
  const outputs = all.map((_, i) => {
    const at = run.stdout.indexOf(marker(i));
    if (at < 0) return '';
    const from = at + marker(i).length + 1;
    return run.stdout.slice(from, run.stdout.indexOf('@@', from)).trim();
  });
  all.forEach((step, i) => {
    const output = outputs[i] ?? '';
    if (options.checkStatus) {
      const status = Number(new RegExp(`@@status-${i}=(\\d+)@@`).exec(run.stdout)?.[1] ?? -1);
      const allowed = failsOnPurpose(step)
        ? status !== 0
        : / --follow\b/.test(step.command)
          ? status === 124
          : status === 0;
      if (!allowed) failures.push(`${step.command}\n  exit status ${status}\n  printed: ${output.slice(0, 400)}`);
    }
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

/** A step the README says fails: its output is an error, or its note says it exits 1. */
function failsOnPurpose(step: Step): boolean {
  return step.expect.some((e) => e.startsWith('→ error')) || /exit 1/.test(step.note ?? '');
}
