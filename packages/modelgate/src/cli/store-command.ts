import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { ConfigKey } from '../config/schema.js';
import { ModelgateError } from '../kernel/errors.js';
import type { Store } from '../store/database.js';
import { addConfigFlags, configFromFlags } from './config-flags.js';
import { outputOption, reportFailure } from './output.js';

/** The config keys that locate the store; commands that work on it directly take these flags. */
export const STORE_KEYS: readonly ConfigKey[] = ['data_dir', 'database_url', 'enable_envvars_config', 'log_level'];

/** Adds the store flags, `--init` and `--output` to a command that works on the store directly. */
export function storeCommand(command: Command): Command {
  addConfigFlags(command, STORE_KEYS);
  command.option('--init', 'create a new, empty store when none exists (refused otherwise)');
  return command.addOption(outputOption());
}

/**
 * Runs a command body with an open store (the same config sources as `modelgate start`),
 * which must exist unless `--init` was given, closing it afterwards and turning failures into a message and exit status.
 */
export async function withStore(opts: Record<string, unknown>, body: (store: Store) => Promise<void>): Promise<void> {
  let store: Store | undefined;
  try {
    const config = configFromFlags(opts);
    const [{ openStore, safeUrl }, { storeExists }] = await Promise.all([
      import('../store/database.js'),
      import('../store/exists.js'),
    ]);
    const location = { dataDir: config.data_dir, databaseUrl: config.database_url };
    if (opts.init !== true && !(await storeExists(location))) {
      const where = config.database_url
        ? `the database ${safeUrl(config.database_url)}`
        : `the data dir ${resolve(config.data_dir)}`;
      throw new ModelgateError(
        'STORE_NOT_FOUND',
        `no modelgate store in ${where}. Run the command where \`modelgate start\` runs, or pass its --data-dir ` +
          '(or --database-url); add --init to create a new, empty store there',
      );
    }
    store = await openStore(location);
    await body(store);
  } catch (err) {
    process.exitCode = reportFailure(err);
  } finally {
    await store?.close();
  }
}

/** `--output json` or the default human table. */
export function wantsJson(opts: Record<string, unknown>): boolean {
  return opts.output === 'json';
}
