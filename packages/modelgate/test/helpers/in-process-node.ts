import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/resolve.js';
import type { ConfigKey } from '../../src/config/schema.js';
import { createLogger } from '../../src/log/logger.js';
import { type NodeOptions, type RunningNode, startNode } from '../../src/node/node.js';
import { tempDir } from './node-process.js';

export interface TestNode {
  readonly node: RunningNode;
  readonly dir: string;
  /** The keys from this node's key_file.json. */
  readonly keys: { management: string; inference: string; api: string };
  close(): Promise<void>;
}

/**
 * Starts a whole node inside the test process on free ports, with its own data dir and key
 * file, and a silent logger. Overrides are config values as the command line would give them.
 */
export async function startTestNode(
  overrides: Partial<Record<ConfigKey, string | boolean>> = {},
  /** The process environment the node sees (`MODELGATE_MASTER_KEY` for replicas sharing a store). */
  env: Readonly<Record<string, string | undefined>> = {},
  /** Start options beyond the configuration (an injected clock). */
  options: NodeOptions = {},
): Promise<TestNode> {
  const dir = tempDir();
  const result = resolveConfig({
    cli: {
      inference_address: 'http://127.0.0.1:0',
      management_address: 'http://127.0.0.1:0',
      metrics_address: 'http://127.0.0.1:0',
      data_dir: join(dir, 'data'),
      key_file: join(dir, 'key_file.json'),
      log_level: 'silent',
      shutdown_timeout_ms: '2000',
      ...overrides,
    },
  });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  const node = await startNode(
    result.config,
    createLogger({ level: result.config.log_level, pretty: false }),
    env,
    options,
  );
  let keys = { management: '', inference: '', api: '' };
  if (!result.config.disable_token_authorization) {
    const file = JSON.parse(readFileSync(join(dir, 'key_file.json'), 'utf8'));
    keys = { management: file.management.key, inference: file.inference.key, api: file.API.key };
  }
  return { node, dir, keys, close: () => node.close() };
}

/** Calls the management API as the node's management key. */
export async function manage(
  t: TestNode,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.node.urls.management}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${t.keys.management}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Creates a deployment through the management API; throws unless it answers 201. */
export async function deploy(t: TestNode, body: Record<string, unknown>): Promise<any> {
  const res = await manage(t, 'POST', '/deployments', body);
  if (res.status !== 201) throw new Error(`deploy answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}
