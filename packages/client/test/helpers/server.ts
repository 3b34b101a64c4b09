import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type DemoServer, type RunningNode, resolveConfig, startDemoServer, startNode } from 'modelgate';

/** A real modelgate node and the bundled demo model server, for the SDK's tests. */
export interface TestServer {
  readonly node: RunningNode;
  readonly demo: DemoServer;
  /** The node's keys from its key_file.json. */
  readonly keys: { readonly management: string; readonly inference: string };
  readonly urls: { readonly management: string; readonly inference: string };
  close(): Promise<void>;
}

/**
 * Starts a node on free loopback ports (own data dir and key file, silent log) and the demo
 * model server; `tokenDelayMs` paces the demo's streamed tokens.
 */
export async function startTestServer(options: { tokenDelayMs?: number } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-client-test-'));
  const result = resolveConfig({
    cli: {
      inference_address: 'http://127.0.0.1:0',
      management_address: 'http://127.0.0.1:0',
      metrics_address: 'http://127.0.0.1:0',
      data_dir: join(dir, 'data'),
      key_file: join(dir, 'key_file.json'),
      log_level: 'silent',
      shutdown_timeout_ms: '2000',
    },
  });
  if (!result.ok) throw new Error(result.problems.join('\n'));
  const node = await startNode(result.config, createLogger({ level: 'silent', pretty: false }), {});
  const demo = await startDemoServer({ tokenDelayMs: options.tokenDelayMs ?? 0 });
  const file = JSON.parse(readFileSync(join(dir, 'key_file.json'), 'utf8'));
  return {
    node,
    demo,
    keys: { management: file.management.key, inference: file.inference.key },
    urls: { management: node.urls.management, inference: node.urls.inference },
    close: async () => {
      await Promise.all([node.close(), demo.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
