import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { call, manageAt } from './http.js';
import { type NodeProcess, startNodeProcess } from './node-process.js';

/** A replica started as its own `modelgate start` process, with the keys its key file holds. */
export interface Replica {
  readonly proc: NodeProcess;
  /** `host-pid`, as the cluster names it (responses, logs, the audit log). */
  readonly name: string;
  keys(): { management: string; inference: string; api: string };
}

/**
 * Starts one replica of a PostgreSQL cluster as a real process (its own directory, so its own
 * key_file.json), sharing `masterKey`.
 */
export async function startReplica(
  databaseUrl: string,
  masterKey: string,
  args: readonly string[] = [],
): Promise<Replica> {
  const proc = await startNodeProcess(['--database-url', databaseUrl, ...args], {
    env: { MODELGATE_MASTER_KEY: masterKey },
  });
  const registered = await proc.waitFor(/replica registered in the cluster/);
  const name = String(JSON.parse(registered).replica);
  return {
    proc,
    name,
    keys() {
      const file = JSON.parse(readFileSync(join(proc.cwd, 'key_file.json'), 'utf8'));
      return { management: file.management.key, inference: file.inference.key, api: file.API.key };
    },
  };
}

/** Calls a replica's management API with a bearer credential (none when undefined). */
export function manageOn(
  replica: Replica,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  return manageAt(replica.proc.urls.management, token, method, path, body);
}

/** Creates a protected deployment `name` (infrastructure `dev`) forwarding to `upstream`, on `replica`. */
export async function deployProtected(replica: Replica, token: string, name: string, upstream: string): Promise<void> {
  const made = await manageOn(replica, token, 'POST', '/deployments', {
    name,
    upstream,
    access: 'protected',
    infrastructure: 'dev',
  });
  if (made.status !== 201) throw new Error(`creating ${name}: ${made.status} ${JSON.stringify(made.body)}`);
}

/** One answer a hammering client got: when it sent the request (performance.now()) and the status. */
export interface Shot {
  readonly target: string;
  readonly sent: number;
  readonly status: number;
  readonly code: string | undefined;
}

/**
 * Sends `GET <url>` with `headers` over a fresh connection each time, round robin over `urls`,
 * from `clients` concurrent loops, until `stop()`; resolves with every answer. Bounded: at most
 * `maxShots` requests in all. `request` sends another method and a body, from `localAddress`;
 * with `keepAlive` every second loop keeps one connection open and sends all its requests on it.
 */
export function hammer(
  urls: readonly string[],
  headers: Record<string, string>,
  options: {
    clients?: number;
    maxShots?: number;
    request?: { method: string; body?: string; localAddress?: string };
    keepAlive?: boolean;
  } = {},
): { readonly shots: readonly Shot[]; stop(): Promise<Shot[]> } {
  const shots: Shot[] = [];
  const maxShots = options.maxShots ?? 20_000;
  let stopped = false;
  let next = 0;
  const loop = async (_: unknown, index: number) => {
    const agent = options.keepAlive && index % 2 === 0 ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    while (!stopped && shots.length < maxShots) {
      const target = urls[next++ % urls.length] as string;
      const sent = performance.now();
      try {
        const res = await call(target, { headers, agent, ...options.request });
        shots.push({ target, sent, status: res.status, code: res.json?.error?.code });
      } catch (err) {
        // No answer: `CONNECTION:<errno>` (ECONNRESET: the connection was closed under the request).
        shots.push({ target, sent, status: 0, code: `CONNECTION:${(err as NodeJS.ErrnoException).code}` });
      }
    }
    if (agent) agent.destroy();
  };
  const loops = Array.from({ length: options.clients ?? 4 }, loop);
  return {
    shots,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return shots;
    },
  };
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Lets `running` go on for `ms`, and then until it has at least `count` answers to requests sent
 * from `since` on (a loaded machine sends fewer per second), within 10 s; then stops it.
 */
export async function hammerOn(
  running: ReturnType<typeof hammer>,
  since: number,
  options: { ms: number; count: number },
): Promise<Shot[]> {
  await sleep(options.ms);
  for (let i = 0; i < 200 && running.shots.filter((s) => s.sent >= since).length < options.count; i++) await sleep(50);
  return running.stop();
}
