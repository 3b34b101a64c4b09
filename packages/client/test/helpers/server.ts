import { type DemoServer, type RunningNode, startDemoServer } from 'modelgate';
import { startScratchNode } from '../../scripts/scratch-node.mjs';

/** A real modelgate node and the bundled demo model server, for the SDK's tests. */
export interface TestServer {
  readonly node: RunningNode;
  readonly demo: DemoServer;
  /** The node's keys from its key_file.json. */
  readonly keys: { readonly management: string; readonly inference: string };
  readonly urls: { readonly management: string; readonly inference: string };
  close(): Promise<void>;
}

/** Starts a throwaway node and the demo model server; `tokenDelayMs` paces the demo's streamed tokens. */
export async function startTestServer(options: { tokenDelayMs?: number } = {}): Promise<TestServer> {
  const scratch = await startScratchNode();
  const demo = await startDemoServer({ tokenDelayMs: options.tokenDelayMs ?? 0 });
  const { node } = scratch;
  return {
    node,
    demo,
    keys: scratch.keys,
    urls: { management: node.urls.management, inference: node.urls.inference },
    close: async () => {
      await Promise.all([scratch.close(), demo.close()]);
    },
  };
}
