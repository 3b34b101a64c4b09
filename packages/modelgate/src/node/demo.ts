import { startDemoServer } from '@modelgate/demo';
import { createDeployment, getRow, updateDeployment } from '../controlplane/operations/deployments.js';
import { ANONYMOUS } from '../kernel/principal.js';
import type { Logger } from '../log/logger.js';
import type { RunningNode } from './node.js';

export const DEMO_DEPLOYMENT = 'demo';

/**
 * `modelgate start --demo`: starts the bundled demo model server on a free loopback port and
 * deploys it as the protected deployment `demo` (or points an existing `demo` at it).
 */
export async function startDemo(node: RunningNode, log: Logger): Promise<{ close(): Promise<void> }> {
  const demo = await startDemoServer({ host: '127.0.0.1', port: 0 });
  const ctx = node.control;
  const exists = await getRow(ctx, DEMO_DEPLOYMENT).then(
    () => true,
    () => false,
  );
  // The node itself acts here, with the full control an operator's key has.
  if (exists) await updateDeployment(ctx, DEMO_DEPLOYMENT, { upstream: demo.url }, ANONYMOUS);
  else await createDeployment(ctx, { name: DEMO_DEPLOYMENT, upstream: demo.url, access: 'protected' }, ANONYMOUS);
  log.info(
    { deployment: DEMO_DEPLOYMENT, upstream: demo.url, url: `${node.urls.inference}/${DEMO_DEPLOYMENT}/` },
    'demo model server deployed',
  );
  return demo;
}
