import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { CONFIG_KEYS, CONFIG_SCHEMA, type Config, type ConfigKey, flagName } from '../config/schema.js';

/**
 * Adds one flag per config key (`inference_address` → `--inference-address VALUE`; booleans
 * take an optional value: `--disable-token-auth` or `--disable-token-auth=false`).
 */
export function addConfigFlags(command: Command, keys: readonly ConfigKey[] = CONFIG_KEYS): Command {
  command.option('--config <path>', 'YAML config file (default: ./modelgate.yaml when present)');
  for (const key of keys) {
    const spec = CONFIG_SCHEMA[key];
    const names = [flagName(key), ...('flagAliases' in spec ? spec.flagAliases : [])];
    for (const name of names) {
      const arg = spec.type === 'boolean' ? ' [bool]' : ` <${spec.type === 'number' ? 'n' : 'value'}>`;
      const primary = name === flagName(key);
      const help = primary ? `${spec.description} (config key ${key})` : `alias of --${flagName(key)}`;
      command.addOption(new Option(`--${name}${arg}`, help));
    }
  }
  return command;
}

/** Collects the config values given on the command line, keyed by config key. */
export function configFlagValues(opts: Record<string, unknown>): Partial<Record<ConfigKey, string | boolean>> {
  const values: Partial<Record<ConfigKey, string | boolean>> = {};
  for (const key of CONFIG_KEYS) {
    const spec = CONFIG_SCHEMA[key];
    const names = [flagName(key), ...('flagAliases' in spec ? spec.flagAliases : [])];
    for (const name of names) {
      const value = opts[camel(name)];
      if (typeof value === 'string' || typeof value === 'boolean') values[key] = value;
    }
  }
  return values;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The config a command runs with: `--config`, its flags and the environment, validated once. */
export function configFromFlags(opts: Record<string, unknown>): Config {
  return loadConfig({
    configPath: typeof opts.config === 'string' ? opts.config : undefined,
    cli: configFlagValues(opts),
    env: process.env,
  });
}
