import { nearest } from '../kernel/nearest.js';
import { parseAddress } from './address.js';
import { parseHostList } from './host-list.js';
import { CONFIG_KEYS, CONFIG_SCHEMA, type Config, type ConfigKey, envName, type KeySpec } from './schema.js';
import { parseTrustedProxies } from './trusted-proxies.js';

export type Origin = 'default' | 'file' | 'cli' | 'env';

/** Raw configuration as each source gives it, before validation. */
export interface ConfigSources {
  /** Parsed YAML document of the config file, with the path for messages. */
  readonly file?: { readonly path: string; readonly values: unknown };
  /** Values from CLI flags: strings as typed, `true` for bare boolean flags. */
  readonly cli?: Readonly<Partial<Record<ConfigKey, string | boolean>>>;
  /** The process environment; `MODELGATE_*` is read only with `enable_envvars_config`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: Config; readonly origins: Readonly<Record<ConfigKey, Origin>> }
  | { readonly ok: false; readonly problems: readonly string[] };

type Value = string | number | boolean;

/**
 * Merges the sources with TorchServe's precedence (environment > command line > config file >
 * default), validates every key, and returns a frozen config or every problem found at once.
 * Pure: no I/O; the caller reads the file and the environment.
 *
 * @example
 * ```ts
 * const r = resolveConfig({ cli: { 'disable_token_authorization': true } });
 * if (r.ok) r.config.disable_token_authorization; // true
 * ```
 */
export function resolveConfig(sources: ConfigSources): ConfigResult {
  const problems: string[] = [];
  const values = new Map<ConfigKey, Value>();
  const origins = {} as Record<ConfigKey, Origin>;
  for (const key of CONFIG_KEYS) {
    values.set(key, CONFIG_SCHEMA[key].default);
    origins[key] = 'default';
  }

  if (sources.file) {
    const { path, values: doc } = sources.file;
    if (doc === null || doc === undefined) {
      // An empty file is a valid, empty configuration.
    } else if (typeof doc !== 'object' || Array.isArray(doc)) {
      problems.push(`${path}: the file must be a mapping of key: value`);
    } else {
      for (const [name, raw] of Object.entries(doc)) {
        if (!isKey(name)) {
          problems.push(`${path}: unknown key "${name}"${suggest(name)}`);
          continue;
        }
        const parsed = fromTyped(name, raw);
        if (typeof parsed === 'object') problems.push(`${path}: ${name} ${parsed.problem}`);
        else set(name, parsed, 'file');
      }
    }
  }

  for (const [name, raw] of Object.entries(sources.cli ?? {})) {
    if (raw === undefined) continue;
    const key = name as ConfigKey;
    const parsed = typeof raw === 'boolean' ? fromTyped(key, raw) : fromText(key, raw);
    if (typeof parsed === 'object') problems.push(`--${key.replaceAll('_', '-')} ${parsed.problem}`);
    else set(key, parsed, 'cli');
  }

  // The environment is consulted only when the file or the command line allowed it.
  if (values.get('enable_envvars_config') === true) {
    const env = sources.env ?? {};
    for (const key of CONFIG_KEYS) {
      if (key === 'enable_envvars_config') continue;
      const raw = env[envName(key)];
      if (raw === undefined) continue;
      const parsed = fromText(key, raw);
      if (typeof parsed === 'object') problems.push(`${envName(key)} ${parsed.problem}`);
      else set(key, parsed, 'env');
    }
  }

  problems.push(...crossChecks(values));
  if (problems.length > 0) return { ok: false, problems };
  const config = Object.freeze(Object.fromEntries(values)) as unknown as Config;
  return { ok: true, config, origins: Object.freeze(origins) };

  function set(key: ConfigKey, value: Value, origin: Origin): void {
    values.set(key, value);
    origins[key] = origin;
  }
}

function isKey(name: string): name is ConfigKey {
  return Object.hasOwn(CONFIG_SCHEMA, name);
}

/** A did-you-mean hint: the key with the same spelling, a prefix match, or the fewest typos. */
function suggest(name: string): string {
  const close = nearestKey(name);
  return close ? ` (did you mean "${close}"?)` : '';
}

/** The config key `name` most likely meant (same spelling, a prefix, or few typos), if any. */
export function nearestKey(name: string): ConfigKey | undefined {
  return nearest(name.toLowerCase().replaceAll('-', '_'), CONFIG_KEYS) as ConfigKey | undefined;
}

/** A value from YAML, already typed. */
function fromTyped(key: ConfigKey, raw: unknown): Value | { problem: string } {
  const spec: KeySpec = CONFIG_SCHEMA[key];
  switch (spec.type) {
    case 'boolean':
      return typeof raw === 'boolean' ? raw : { problem: `must be true or false, got ${show(raw)}` };
    case 'number':
      return typeof raw === 'number' ? checkNumber(spec, raw) : { problem: `must be a number, got ${show(raw)}` };
    default:
      if (spec.list && Array.isArray(raw) && raw.every((item) => typeof item === 'string')) {
        return checkText(spec, raw.join(','));
      }
      // `workers: 2` is YAML's number 2: as text it is what `--workers 2` would give.
      if (typeof raw === 'number' && Number.isFinite(raw)) return checkText(spec, String(raw));
      return typeof raw === 'string' ? checkText(spec, raw) : { problem: `must be a string, got ${show(raw)}` };
  }
}

/** A value from the command line or the environment: always text. */
function fromText(key: ConfigKey, raw: string): Value | { problem: string } {
  const spec: KeySpec = CONFIG_SCHEMA[key];
  switch (spec.type) {
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off', ''].includes(v)) return false;
      return { problem: `must be true or false, got ${show(raw)}` };
    }
    case 'number': {
      const n = raw.trim() === '' ? Number.NaN : Number(raw);
      return Number.isFinite(n) ? checkNumber(spec, n) : { problem: `must be a number, got ${show(raw)}` };
    }
    default:
      return checkText(spec, raw);
  }
}

function checkNumber(spec: KeySpec, n: number): Value | { problem: string } {
  if (!Number.isFinite(n)) return { problem: 'must be a finite number' };
  if (spec.min !== undefined) {
    if (spec.exclusiveMin ? n <= spec.min : n < spec.min) {
      return { problem: `must be ${spec.exclusiveMin ? 'greater than' : 'at least'} ${spec.min}, got ${n}` };
    }
  }
  return n;
}

function checkText(spec: KeySpec, text: string): Value | { problem: string } {
  if (spec.type === 'address') {
    const parsed = parseAddress(text);
    return typeof parsed === 'string' ? { problem: `${parsed}, got ${show(text)}` } : text;
  }
  if (spec.type === 'enum' && spec.values && !spec.values.includes(text)) {
    return { problem: `must be one of ${spec.values.join(', ')}, got ${show(text)}` };
  }
  return text;
}

function crossChecks(values: Map<ConfigKey, Value>): string[] {
  const problems: string[] = [];
  const addresses = ['inference_address', 'management_address', 'metrics_address'] as const;
  const usesTls = addresses.some((k) => String(values.get(k)).startsWith('https://'));
  if (usesTls && (!values.get('certificate_file') || !values.get('private_key_file'))) {
    problems.push('an https:// address needs both certificate_file and private_key_file');
  }
  const url = String(values.get('database_url'));
  if (url !== '' && !/^postgres(ql)?:\/\//.test(url)) {
    problems.push('database_url must be empty (embedded SQLite) or start with postgres://');
  }
  const redis = String(values.get('redis_url'));
  if (redis !== '' && !/^rediss?:\/\//.test(redis)) {
    problems.push('redis_url must be empty or start with redis:// or rediss://');
  }
  const domain = String(values.get('base_domain'));
  if (
    domain !== '' &&
    !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(domain)
  ) {
    problems.push(`base_domain must be a DNS name, got ${show(domain)}`);
  }
  const hosts = parseHostList(String(values.get('public_hosts')));
  if (typeof hosts === 'string') problems.push(`public_hosts ${hosts}`);
  const proxies = parseTrustedProxies(String(values.get('trusted_proxies')));
  if ('problems' in proxies) problems.push(...proxies.problems);
  else if (values.get('proxy_protocol') !== 'off' && String(values.get('trusted_proxies')).trim() === '') {
    // Nobody could send the header, and taking it from anyone would let every client pick its address.
    problems.push('proxy_protocol needs trusted_proxies: the addresses of the load balancers that send the header');
  }
  return problems;
}

/** Shows a bad value in a message without echoing long or secret-looking input. */
function show(raw: unknown): string {
  const text = typeof raw === 'string' ? JSON.stringify(raw) : (JSON.stringify(raw) ?? String(raw));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
