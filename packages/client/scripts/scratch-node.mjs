// A throwaway modelgate node for the generator and the tests: its own temporary data dir and key
// file, free loopback ports, a silent log. Needs packages/modelgate built (`npm run build`).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, resolveConfig, startNode } from 'modelgate';

/**
 * Starts a node; `close()` stops it and removes its directory.
 *
 * @example
 * ```js
 * const scratch = await startScratchNode();
 * await fetch(`${scratch.node.urls.management}/api/v1/openapi.json`);
 * await scratch.close();
 * ```
 * @returns {Promise<{
 *   node: import('modelgate').RunningNode,
 *   keys: { management: string, inference: string },
 *   close: () => Promise<void>,
 * }>}
 */
export async function startScratchNode() {
  const dir = mkdtempSync(join(tmpdir(), 'modelgate-client-'));
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
  if (!result.ok) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(result.problems.join('\n'));
  }
  const node = await startNode(result.config, createLogger({ level: 'silent', pretty: false }), {});
  const file = JSON.parse(readFileSync(join(dir, 'key_file.json'), 'utf8'));
  return {
    node,
    keys: { management: file.management.key, inference: file.inference.key },
    close: async () => {
      await node.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
