import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { proxyConfig } from '../../src/dataplane/forward-auth/generators.js';
import { freePort, tempDir } from './node-process.js';

/** A real proxy (nginx or Caddy from Debian) running a configuration `modelgate forward-auth` printed. */
export interface RunningProxy {
  readonly url: string;
  readonly config: string;
  /** What the proxy wrote on stdout and stderr so far. */
  output(): string;
  close(): Promise<void>;
}

/** Whether a binary is on PATH (CI installs nginx-light and caddy; a developer may not have them). */
export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts nginx or Caddy with the configuration the generator prints for a node's inference
 * listener, and waits until it accepts connections.
 */
export async function startProxy(
  kind: 'nginx' | 'caddy',
  node: string,
  options: { deployment?: string; cache?: boolean; upstreams?: string[] } = {},
): Promise<RunningProxy> {
  const dir = tempDir(`modelgate-${kind}-`);
  // nginx's workers run as an unprivileged user: they must reach the folders nginx makes here.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const config = proxyConfig(kind, { listen, node, runDir: dir, ...options });
  if (kind === 'nginx') {
    const file = join(dir, 'nginx.conf');
    writeFileSync(file, config);
    return { ...(await runListening('nginx', ['-c', file, '-g', 'daemon off;'], listen)), config };
  }
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, config);
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir };
  return { ...(await runListening('caddy', ['run', '--adapter', 'caddyfile', '--config', file], listen, env)), config };
}

/** A proxy process started by {@link runListening}. */
export type ListeningProcess = Omit<RunningProxy, 'config'> & { readonly child: ChildProcess };

/**
 * Runs `command args` in the foreground and waits (at most 15 s) until it accepts HTTP on
 * `listen` (`host:port`); any answer will do, even an error status.
 */
export async function runListening(
  command: string,
  args: readonly string[],
  listen: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ListeningProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited at start:\n${output}`);
    try {
      await fetch(`http://${listen}/_modelgate_probe`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${command} did not start listening:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    child,
    url: `http://${listen}`,
    output: () => output,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
