import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './node-process.js';

/** The Redis server the integration tests use (CI starts it; see .ci/run). */
export const REDIS_URL = process.env.MODELGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test run (`modelgate_test_<hex>:`), so runs never meet. */
export function testPrefix(): string {
  return `modelgate_test_${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under `prefix` on `url` (a test's cleanup). */
export async function dropPrefix(prefix: string, url: string = REDIS_URL): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** The keys under `prefix` on `url` now. */
export async function keysUnder(prefix: string, url: string = REDIS_URL): Promise<string[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    return await client.keys(`${prefix}*`);
  } finally {
    client.disconnect();
  }
}

/** A redis-server of a test's own, on a port of its own, that the test may stop, freeze and restart. */
export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** Starts it (again, on the same port); resolves once it answers PING. */
  start(): Promise<void>;
  /** Kills it (SIGKILL): connections drop at once. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung server, whose connections stay open but never answer. */
  freeze(): void;
  thaw(): void;
}

/**
 * A `redis-server` process (Debian's, as CI installs it) on a free port, nothing saved to disk.
 *
 * @example
 * ```ts
 * const redis = await ownRedis();
 * afterAll(() => redis.kill());
 * ```
 */
export async function ownRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const own: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      for (let i = 0; i < 100; i++) {
        const client = new Redis(own.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
        client.on('error', () => {});
        try {
          await client.connect();
          if ((await client.ping()) === 'PONG') return;
        } catch {
          // not yet
        } finally {
          client.disconnect();
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`redis-server did not answer on port ${port}`);
    },
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      running.kill('SIGCONT');
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    freeze() {
      child?.kill('SIGSTOP');
    },
    thaw() {
      child?.kill('SIGCONT');
    },
  };
  await own.start();
  return own;
}

/** Polls `condition` every 50 ms until it holds, at most `ms`; throws `what` otherwise. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}
