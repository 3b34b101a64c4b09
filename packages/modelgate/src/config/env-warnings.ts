import { nearestKey } from './resolve.js';
import { CONFIG_KEYS, envName } from './schema.js';

/** `MODELGATE_*` variables that are not config keys: read by the CLI or the node in every case. */
const OTHER_VARIABLES = ['MODELGATE_API_TOKEN', 'MODELGATE_ENDPOINT', 'MODELGATE_MASTER_KEY'];
/** Prefixes of variables that are the user's own (`modelgate export` names secrets' sources so). */
const OTHER_PREFIXES = ['MODELGATE_SECRET_'];

/**
 * What `modelgate start` should warn about in its environment: config variables set while
 * `enable_envvars_config` is off (TorchServe ignores them then, and so do we, but not silently),
 * and `MODELGATE_*` names that are nothing (a typo), with the nearest known variable. Names only:
 * values may be secrets.
 *
 * @example
 * ```ts
 * envWarnings({ MODELGATE_WROKERS: '2' }, true);
 * // ['MODELGATE_WROKERS is not a modelgate variable and is ignored (did you mean MODELGATE_WORKERS?)']
 * ```
 */
export function envWarnings(env: Readonly<Record<string, string | undefined>>, envEnabled: boolean): string[] {
  const known = new Set(CONFIG_KEYS.map(envName));
  const warnings: string[] = [];
  const ignored: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('MODELGATE_') || env[name] === undefined) continue;
    if (OTHER_VARIABLES.includes(name) || OTHER_PREFIXES.some((p) => name.startsWith(p))) continue;
    if (known.has(name)) {
      if (!envEnabled) ignored.push(name);
      continue;
    }
    const near = nearestKey(name.slice('MODELGATE_'.length));
    const hint = near ? ` (did you mean ${envName(near)}?)` : '';
    warnings.push(`${name} is not a modelgate variable and is ignored${hint}`);
  }
  if (ignored.length > 0) {
    warnings.unshift(
      `${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} ignored: the server reads its MODELGATE_* ` +
        'variables when enable_envvars_config is true (in the config file or with --enable-envvars-config)',
    );
  }
  return warnings;
}
