import type { Command } from 'commander';
import type { RunningNode } from '../../node/node.js';
import { addConfigFlags, configFromFlags } from '../config-flags.js';
import { reportFailure } from '../output.js';

/**
 * `modelgate start`: runs the node until SIGINT/SIGTERM, then shuts down gracefully (exit 0).
 * SIGHUP reloads the log level and the TLS certificate and key, and never stops the node.
 */
export function registerStart(program: Command): void {
  const command = program
    .command('start')
    .description('Start the gateway, the management API and the metrics listener');
  addConfigFlags(command);
  command.option('--demo', 'also start the bundled demo model server and deploy it as protected "demo"');
  command.action(async (opts: Record<string, unknown>) => {
    let node: RunningNode | undefined;
    // Installed first: SIGHUP's default action would kill a node still starting.
    let hangup = () => {};
    process.on('SIGHUP', () => hangup());
    try {
      // Loaded here, not at the top: client commands should not pay for the server's imports.
      const [{ createLogger }, { startNode }, { startDemo }, { LevelControl }, { reloadNode }] = await Promise.all([
        import('../../log/logger.js'),
        import('../../node/node.js'),
        import('../../node/demo.js'),
        import('../../log/level-control.js'),
        import('../../node/reload.js'),
      ]);
      const config = configFromFlags(opts);
      const levels = new LevelControl();
      const log = createLogger({ level: config.log_level, onChild: levels.track });
      const { workerCount } = await import('../../node/cluster/workers.js');
      const workers = workerCount(config.workers);
      if (workers > 1 && (await import('node:cluster')).default.isWorker) {
        // A data-plane worker forked by the primary below: it serves until the primary stops it.
        // SIGHUP is the primary's (it holds the start lock); the new log level reaches workers from it.
        const { runWorker } = await import('../../node/cluster/worker.js');
        await runWorker(config, log, process.env, levels).catch((err: unknown) => process.exit(reportFailure(err)));
        return;
      }
      const { envWarnings } = await import('../../config/env-warnings.js');
      for (const warning of envWarnings(process.env, config.enable_envvars_config)) log.warn(warning);
      node =
        workers > 1
          ? await (await import('../../node/cluster/primary.js')).startCluster(config, log, workers)
          : await startNode(config, log);
      const running = node;
      let current = config;
      hangup = () => {
        current = reloadNode({ current, load: () => configFromFlags(opts), servers: running.servers, log, levels });
        running.reloaded?.(current);
      };
      const demo = opts.demo === true ? await startDemo(running, log) : undefined;
      let signalled = false;
      const stop = (signal: NodeJS.Signals) => {
        if (signalled) return;
        signalled = true;
        log.info({ signal }, 'shutting down');
        Promise.all([running.close(), demo?.close()]).then(
          () => log.flush(() => process.exit(0)),
          (err: unknown) => process.exit(reportFailure(err)),
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    } catch (err) {
      process.exitCode = reportFailure(err);
      await node?.close();
    }
  });
}
