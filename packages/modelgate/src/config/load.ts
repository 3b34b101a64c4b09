import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ModelgateError } from '../kernel/errors.js';
import { type ConfigSources, resolveConfig } from './resolve.js';
import type { Config, ConfigKey } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'modelgate.yaml';

/**
 * Reads the config file (`--config PATH`, else `./modelgate.yaml` when present), merges it with
 * the CLI values and the environment, and returns the frozen config. Every problem is reported
 * together in one `CONFIG_INVALID` error (exit status 2).
 *
 * @example
 * ```ts
 * const config = loadConfig({ configPath: undefined, cli: {}, env: process.env });
 * ```
 */
export function loadConfig(options: {
  configPath?: string | undefined;
  cli?: Partial<Record<ConfigKey, string | boolean>>;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}): Config {
  const problems: string[] = [];
  let file: ConfigSources['file'];
  const path = options.configPath ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (path !== undefined) {
    try {
      const text = readFileSync(path, 'utf8');
      file = { path, values: parseYaml(text) };
    } catch (err) {
      problems.push(`${path}: ${describeReadError(err)}`);
    }
  }
  const result = resolveConfig({ file, cli: options.cli ?? {}, env: options.env ?? {} });
  if (!result.ok) problems.push(...result.problems);
  if (problems.length > 0 || !result.ok) {
    throw new ModelgateError(
      'CONFIG_INVALID',
      `The configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { details: problems },
    );
  }
  return result.config;
}

function describeReadError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { linePos?: { line: number; col: number }[] };
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.name === 'YAMLParseError') {
    const where = e.linePos?.[0] ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '';
    return `not valid YAML${where}`;
  }
  return `cannot be read (${e.code ?? e.name})`;
}
