import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built CLI entry point (tests run after `npm run build`). */
export const BIN = resolve(import.meta.dirname, '../../bin/modelgate.js');

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly cwd: string;
  /** Every stdout+stderr line so far. */
  readonly lines: string[];
  readonly urls: { inference: string; management: string; metrics: string };
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** All output as one string. */
  output(): string;
  /** Waits until a line matching `pattern` appears. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** A fresh temporary working directory (for key_file.json, modelgate.yaml, .modelgate/). */
export function tempDir(prefix = 'modelgate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Listener flags on free ports, so tests can run side by side. */
export const EPHEMERAL_PORTS = [
  '--inference-address',
  'http://127.0.0.1:0',
  '--management-address',
  'http://127.0.0.1:0',
  '--metrics-address',
  'http://127.0.0.1:0',
];

/**
 * Runs `modelgate <args>` as a real child process and collects its output line by line.
 */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; stdin?: string; bin?: string } = {},
): Omit<NodeProcess, 'urls'> {
  const cwd = options.cwd ?? tempDir();
  const child = spawn(process.execPath, [options.bin ?? BIN, ...args], {
    cwd,
    env: { ...cleanEnv(), ...options.env },
    // stdin is closed unless the test gives input (written, then ended).
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (() => {
    let pending = '';
    return (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pattern.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    };
  })();
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((res) => {
    child.on('exit', (code, signal) => res(code ?? signal ?? -1));
  });
  // After the exit, once its output is all read (a failure's last lines come after 'exit').
  const closed = new Promise<number | string>((res) => {
    child.on('close', (code, signal) => res(code ?? signal ?? -1));
  });
  return {
    child,
    cwd,
    lines,
    exited,
    output: () => lines.join('\n'),
    waitFor(pattern, timeoutMs = 15_000) {
      const found = lines.find((l) => pattern.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => {
          rej(new Error(`timed out waiting for ${pattern}; output so far:\n${lines.join('\n')}`));
        }, timeoutMs);
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            res(line);
          },
        };
        waiters.push(waiter);
        closed.then((status) => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            rej(new Error(`process exited (${status}) while waiting for ${pattern}; output:\n${lines.join('\n')}`));
          }
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Starts `modelgate start` on free ports and resolves once the three listeners are bound.
 */
export async function startNodeProcess(
  args: readonly string[] = [],
  /** `bin`: another build's entry point (an installed package's), instead of this clone's. */
  options: { cwd?: string; env?: Record<string, string | undefined>; bin?: string } = {},
): Promise<NodeProcess> {
  const proc = runCli(['start', ...EPHEMERAL_PORTS, ...args], options);
  const line = await proc.waitFor(/modelgate started/, 60_000); // generous: a loaded CI machine starts workers slowly
  const parsed = JSON.parse(line) as { inference: string; management: string; metrics: string };
  return { ...proc, urls: { inference: parsed.inference, management: parsed.management, metrics: parsed.metrics } };
}

/**
 * The test runner's environment without MODELGATE_* variables, so they never leak in, and with
 * an empty XDG_CONFIG_HOME of its own, so no login context of the machine's user is used.
 */
function cleanEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MODELGATE_')) env[k] = v;
  env.XDG_CONFIG_HOME = tempDir('modelgate-xdg-');
  return env;
}

/** Runs a CLI command to completion, with stdout and stderr kept apart. */
export async function runCliToEnd(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; stdin?: string } = {},
): Promise<{ code: number | string; stdout: string; stderr: string; all: string }> {
  const proc = runCli(args, options);
  let stdout = '';
  let stderr = '';
  proc.child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  proc.child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  await new Promise((res) => proc.child.on('close', res));
  return { code: await proc.exited, stdout, stderr, all: stdout + stderr };
}

/** A port nothing listens on now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
