import type { CreateDeploymentInput } from '../../controlplane/operations/deployments.js';
import {
  type AuthSettings,
  type AuthSettingsPatch,
  parseAuthSettings,
  parseAuthSettingsPatch,
} from '../../kernel/auth-settings.js';
import { ModelgateError } from '../../kernel/errors.js';
import {
  GLOBAL_PRIVILEGES,
  type GlobalPrivilege,
  type ResourceType,
  RIGHTS_BY_TYPE,
} from '../../kernel/permissions.js';
import { parseRateLimit, type RateLimit } from '../../kernel/rate-limit.js';
import {
  ACCESS_VALUES,
  type Access,
  checkUpstream,
  DESCRIPTION_RULE,
  isAccess,
  isDescription,
  NAME_PATTERN,
  Problems,
  SECRET_NAME_PATTERN,
  VERSION_PATTERN,
} from '../../kernel/validation.js';

/**
 * The one schema of the declarative file (`modelgate apply -f FILE`), format versions 1 and 2.
 *
 * A field left out is not managed: on creation it takes the same default as `modelgate deploy`,
 * on an existing resource it is left as it is. Version 2 adds `groups` and `grants` (issue 8);
 * version 1 refuses them by name, so an old file never half-manages permissions, and both refuse
 * `users` (a later version): a file never carries a password.
 */
export const FORMAT_VERSION = 2;

/** Top-level keys of format version 1. */
const TOP_LEVEL_V1 = ['version', 'infrastructures', 'services', 'secrets', 'deployments'] as const;
/** Keys version 2 adds: the permissions of issue 8. */
const ACCESS_KEYS = ['groups', 'grants'] as const;
/** Keys a later format version will carry; named so the error says why. */
const RESERVED = ['users'] as const;

/** A group as the file declares it; a field left out is not managed. */
export interface DesiredGroup {
  readonly name: string;
  /** The group's global privileges (`admin`, `create_service`); left out: [] on creation, else not managed. */
  readonly privileges?: readonly GlobalPrivilege[];
  /** Usernames: each must be a user on the node. Left out: not managed. */
  readonly members?: readonly string[];
}

/** A group's rights on one infrastructure, service or secret, as `PUT .../grants/GROUP` sets them. */
export interface DesiredGrant {
  readonly group: string;
  readonly type: ResourceType;
  readonly resource: string;
  readonly rights: readonly string[];
}

/** The permission sections of a version 2 file. */
export interface DesiredAccess {
  readonly groups: readonly DesiredGroup[];
  readonly grants: readonly DesiredGrant[];
}

/** Where a secret's value comes from; never the file itself unless inline values are allowed. */
export type SecretSource =
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'inline'; readonly value: string }
  /** No source: the secret must already exist on the node (it is not created or changed). */
  | { readonly kind: 'existing' };

export interface DesiredSecret {
  readonly name: string;
  readonly source: SecretSource;
}

export interface DesiredNamed {
  readonly name: string;
  readonly description?: string;
}

export interface DesiredVersion {
  readonly service: string;
  readonly version: string;
  readonly auth: AuthSettings;
  /** Ensure at least this many API keys of the version exist. */
  readonly api_keys?: number;
}

/** A deployment as `modelgate deploy` takes it, with validated auth settings and a key count. */
export interface DesiredDeployment extends Omit<CreateDeploymentInput, 'auth' | 'rate_limit'> {
  /** Its rate limit (X3); null removes one; absent leaves it as it is. */
  readonly rate_limit?: RateLimit | null;
  /**
   * Settings: compared with the deployment's effective ones (its override, else its version's);
   * null: no override, follow the version's settings (D6).
   */
  readonly auth?: AuthSettings | null;
  /**
   * The settings the file names under `auth`: on an existing deployment only these change, the
   * others keep their value, as with `PATCH` and `deployments update`.
   */
  readonly authNamed?: AuthSettingsPatch;
  /** Ensure at least this many API keys of the deployment exist. */
  readonly api_keys?: number;
}

/** The validated file: what the node should hold. */
export interface DesiredState {
  readonly infrastructures: readonly DesiredNamed[];
  readonly services: readonly DesiredNamed[];
  readonly versions: readonly DesiredVersion[];
  readonly secrets: readonly DesiredSecret[];
  readonly deployments: readonly DesiredDeployment[];
  /** Version 2 only: groups and grants are managed. Undefined for version 1 (left as they are). */
  readonly access?: DesiredAccess;
}

export interface ParseOptions {
  /** `--allow-inline-secrets`: accept `value:` in a secret entry. */
  readonly allowInlineSecrets?: boolean;
}

export type ParseResult = { ok: true; state: DesiredState } | { ok: false; problems: string[] };

/** Upper bound of `api_keys` (the API creates at most 100 at once). */
const MAX_KEYS = 100;

/**
 * Validates a parsed YAML/JSON document into the desired state. Pure. Every problem is
 * reported, each with the path of the bad field (`deployments[1].upstream: ...`).
 *
 * @example
 * ```ts
 * parseDesiredState({ deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000' }] });
 * // → { ok: true, state: { deployments: [{ name: 'demo', upstream: 'http://127.0.0.1:9000' }], ... } }
 * ```
 */
export function parseDesiredState(doc: unknown, options: ParseOptions = {}): ParseResult {
  const p = new PathProblems();
  if (doc === null || doc === undefined) doc = {};
  if (!isObject(doc)) return { ok: false, problems: ['(top): the file must be a mapping of keys'] };
  const v2 = doc.version === 2;
  const topLevel: readonly string[] = v2 ? [...TOP_LEVEL_V1, ...ACCESS_KEYS] : TOP_LEVEL_V1;
  for (const key of Object.keys(doc)) {
    if ((ACCESS_KEYS as readonly string[]).includes(key) && !v2) {
      p.add(key, 'not in format version 1 (groups and grants need `version: 2`)');
    } else if ((RESERVED as readonly string[]).includes(key)) {
      p.add(
        key,
        `not in format version ${v2 ? 2 : 1} (users come with a later version; group members name existing users)`,
      );
    } else if (!topLevel.includes(key)) {
      p.add(key, `unknown key (expected one of ${topLevel.join(', ')})`);
    }
  }
  if (doc.version !== undefined && doc.version !== 1 && doc.version !== 2) {
    p.add('version', `must be 1 or 2 (the formats this modelgate reads)`);
  }
  const infrastructures = list(p, doc, 'infrastructures', (item, at) => named(p, item, at));
  const versions: DesiredVersion[] = [];
  const services = list(p, doc, 'services', (item, at) => {
    const svc = named(p, item, at, ['versions']);
    if (svc && isObject(item)) {
      const found = list(p, item, `${at}.versions`, (v, vat) => version(p, v, vat, svc.name), 'version');
      versions.push(...found);
    }
    return svc;
  });
  const secrets = list(p, doc, 'secrets', (item, at) => secret(p, item, at, options));
  const deployments = list(p, doc, 'deployments', (item, at) => deployment(p, item, at));
  const access = v2 ? accessSections(p, doc) : undefined;
  if (p.list.length > 0) return { ok: false, problems: p.list };
  const state = { infrastructures, services, versions, secrets, deployments };
  return { ok: true, state: access ? { ...state, access } : state };
}

/** Like {@link parseDesiredState}, but throws `APPLY_FILE_INVALID` with every problem. */
export function desiredStateOrThrow(doc: unknown, source: string, options: ParseOptions = {}): DesiredState {
  const result = parseDesiredState(doc, options);
  if (!result.ok) throw fileInvalid(source, result.problems);
  return result.state;
}

/** The error for a file that cannot be applied: all problems, one per line. */
export function fileInvalid(source: string, problems: readonly string[]): ModelgateError {
  const n = problems.length;
  return new ModelgateError(
    'APPLY_FILE_INVALID',
    `${source} cannot be applied (${n} problem${n === 1 ? '' : 's'}); nothing was changed:\n${problems.map((x) => `  - ${x}`).join('\n')}`,
    { details: problems },
  );
}

/**
 * The error for a file that names a user, group or grant target that is neither in the file nor
 * on the node: every such name, and anything else wrong with the file, at once.
 */
export function referencesUnknown(source: string, problems: readonly string[]): ModelgateError {
  const n = problems.length;
  return new ModelgateError(
    'APPLY_REFERENCE_UNKNOWN',
    `${source} names what does not exist (${n} problem${n === 1 ? '' : 's'}); nothing was changed:\n${problems.map((x) => `  - ${x}`).join('\n')}`,
    { details: problems },
  );
}

// ---------------------------------------------------------------------------------------------

class PathProblems {
  readonly list: string[] = [];
  add(path: string, problem: string): void {
    this.list.push(`${path}: ${problem}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads `doc[key]` as a list of unique entries (unique by `idKey`), validating each with `each`. */
function list<T>(
  p: PathProblems,
  doc: Record<string, unknown>,
  path: string,
  each: (item: unknown, at: string) => T | undefined,
  /** The field that names an entry, or how to name it (a grant: group and target). */
  idKey: string | ((item: Record<string, unknown>) => unknown) = 'name',
): T[] {
  const key = path.slice(path.lastIndexOf('.') + 1);
  const raw = doc[key];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    p.add(path, 'must be a list');
    return [];
  }
  const out: T[] = [];
  const seen = new Map<string, number>();
  const identify = typeof idKey === 'string' ? (item: Record<string, unknown>) => item[idKey] : idKey;
  raw.forEach((item, i) => {
    const at = `${path}[${i}]`;
    const id = isObject(item) ? identify(item) : undefined;
    if (typeof id === 'string') {
      const first = seen.get(id);
      if (first !== undefined) {
        const where = typeof idKey === 'string' ? `${at}.${idKey}` : at;
        p.add(where, `"${id}" is already declared at ${path}[${first}]`);
      } else seen.set(id, i);
    }
    const parsed = each(item, at);
    if (parsed !== undefined) out.push(parsed);
  });
  return out;
}

function unknownKeys(p: PathProblems, item: Record<string, unknown>, at: string, allowed: readonly string[]): void {
  for (const key of Object.keys(item)) {
    if (!allowed.includes(key)) p.add(`${at}.${key}`, `unknown key (expected one of ${allowed.join(', ')})`);
  }
}

function entry(p: PathProblems, item: unknown, at: string): Record<string, unknown> | undefined {
  if (isObject(item)) return item;
  p.add(at, 'must be a mapping');
  return undefined;
}

function checkName(p: PathProblems, value: unknown, at: string): value is string {
  if (typeof value === 'string' && NAME_PATTERN.test(value)) return true;
  p.add(at, 'must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit');
  return false;
}

function optionalName(p: PathProblems, item: Record<string, unknown>, key: string, at: string): string | undefined {
  const v = item[key];
  if (v === undefined) return undefined;
  return checkName(p, v, `${at}.${key}`) ? v : undefined;
}

function optionalBoolean(p: PathProblems, v: unknown, at: string): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  p.add(at, 'must be true or false');
  return undefined;
}

function keyCount(p: PathProblems, v: unknown, at: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_KEYS) return v;
  p.add(at, `must be a whole number from 0 to ${MAX_KEYS} (how many API keys must exist at least)`);
  return undefined;
}

/**
 * Version strings are often written bare (`version: 1`): a whole number is read as its text.
 * Other numbers are refused, since YAML has already changed them (`1.10` is the number 1.1).
 */
function versionString(p: PathProblems, v: unknown, at: string): string | undefined {
  const s = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
  if (typeof s === 'string' && VERSION_PATTERN.test(s)) return s;
  p.add(at, 'must be 1-64 of A-Z a-z 0-9 . _ - (quote it in YAML if it looks like a number)');
  return undefined;
}

function auth(p: PathProblems, v: unknown, at: string): AuthSettings | undefined {
  try {
    return parseAuthSettings(v, at);
  } catch (err) {
    // parseAuthSettings names each field from `at`; its problems are already paths.
    for (const problem of (err as ModelgateError).details ?? [String(err)]) p.list.push(problem);
    return undefined;
  }
}

function named(p: PathProblems, raw: unknown, at: string, more: readonly string[] = []): DesiredNamed | undefined {
  const item = entry(p, raw, at);
  if (!item) return undefined;
  unknownKeys(p, item, at, ['name', 'description', ...more]);
  const okName = checkName(p, item.name, `${at}.name`);
  const description = item.description;
  if (description !== undefined && !isDescription(description)) p.add(`${at}.description`, DESCRIPTION_RULE);
  if (!okName) return undefined;
  return typeof description === 'string' ? { name: item.name as string, description } : { name: item.name as string };
}

function version(p: PathProblems, raw: unknown, at: string, service: string): DesiredVersion | undefined {
  const item = entry(p, raw, at);
  if (!item) return undefined;
  unknownKeys(p, item, at, ['version', 'auth', 'api_keys']);
  const v = versionString(p, item.version, `${at}.version`);
  const settings = auth(p, item.auth, `${at}.auth`);
  const keys = keyCount(p, item.api_keys, `${at}.api_keys`);
  if (v === undefined || settings === undefined) return undefined;
  return { service, version: v, auth: settings, ...(keys === undefined ? {} : { api_keys: keys }) };
}

function secret(p: PathProblems, raw: unknown, at: string, options: ParseOptions): DesiredSecret | undefined {
  const item = entry(p, raw, at);
  if (!item) return undefined;
  unknownKeys(p, item, at, ['name', 'from_env', 'from_file', 'value']);
  const name = item.name;
  const okName = typeof name === 'string' && SECRET_NAME_PATTERN.test(name);
  if (!okName) p.add(`${at}.name`, 'must be 1-128 of A-Z a-z 0-9 _ . -, starting with a letter or digit');
  const given = (['from_env', 'from_file', 'value'] as const).filter((k) => item[k] !== undefined);
  if (given.length > 1) p.add(at, `give one of from_env, from_file or value, not ${given.join(' and ')}`);
  let source: SecretSource = { kind: 'existing' };
  if (item.from_env !== undefined) {
    if (typeof item.from_env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(item.from_env)) {
      source = { kind: 'env', variable: item.from_env };
    } else p.add(`${at}.from_env`, 'must be the name of an environment variable');
  }
  if (item.from_file !== undefined) {
    if (typeof item.from_file === 'string' && item.from_file !== '') source = { kind: 'file', path: item.from_file };
    else p.add(`${at}.from_file`, 'must be a file path');
  }
  if (item.value !== undefined) {
    // The value itself is never quoted in a problem.
    if (!options.allowInlineSecrets) {
      p.add(
        `${at}.value`,
        'inline secret values are refused unless --allow-inline-secrets is given; use from_env or from_file',
      );
    } else if (typeof item.value !== 'string' || item.value === '' || item.value.length > 4096) {
      p.add(`${at}.value`, 'must be a string of 1 to 4096 characters');
    } else source = { kind: 'inline', value: item.value };
  }
  if (!okName) return undefined;
  return { name: name as string, source };
}

function deployment(p: PathProblems, raw: unknown, at: string): DesiredDeployment | undefined {
  const item = entry(p, raw, at);
  if (!item) return undefined;
  unknownKeys(p, item, at, [
    'name',
    'upstream',
    'access',
    'infrastructure',
    'service',
    'version',
    'enabled',
    'auth',
    'api_keys',
    'rate_limit',
  ]);
  const okName = checkName(p, item.name, `${at}.name`);
  domainCheck(p, `${at}.upstream`, 'upstream', (problems) => checkUpstream(problems, item.upstream));
  if (item.access !== undefined && !isAccess(item.access))
    p.add(`${at}.access`, `must be ${ACCESS_VALUES.join(' or ')}`);
  const infrastructure = optionalName(p, item, 'infrastructure', at);
  const service = optionalName(p, item, 'service', at);
  const v = item.version === undefined ? undefined : versionString(p, item.version, `${at}.version`);
  const enabled = optionalBoolean(p, item.enabled, `${at}.enabled`);
  const settings = item.auth === undefined || item.auth === null ? item.auth : auth(p, item.auth, `${at}.auth`);
  const keys = keyCount(p, item.api_keys, `${at}.api_keys`);
  const rateLimit = rateLimitOf(p, item.rate_limit, `${at}.rate_limit`);
  if (!okName || typeof item.upstream !== 'string') return undefined;
  return {
    name: item.name as string,
    upstream: item.upstream,
    ...(item.access === undefined ? {} : { access: item.access as Access }),
    ...(infrastructure === undefined ? {} : { infrastructure }),
    ...(service === undefined ? {} : { service }),
    ...(v === undefined ? {} : { version: v }),
    ...(enabled === undefined ? {} : { enabled }),
    ...(settings === undefined ? {} : { auth: settings }),
    ...(settings ? { authNamed: parseAuthSettingsPatch(item.auth, `${at}.auth`) } : {}),
    ...(keys === undefined ? {} : { api_keys: keys }),
    ...(item.rate_limit === undefined ? {} : { rate_limit: rateLimit }),
  };
}

/** A deployment's `rate_limit`, checked as the API checks it (every problem at its path). */
function rateLimitOf(p: PathProblems, value: unknown, at: string): RateLimit | null {
  return domainCheck(p, at, at, (problems) => parseRateLimit(problems, at, value, true));
}

/**
 * Runs a check the API makes too (it fills `Problems`) and adds each problem at `at`, without the
 * leading field name the API's message starts with (`field`), so the file's path names it instead.
 */
function domainCheck<T>(p: PathProblems, at: string, field: string, check: (problems: Problems) => T): T {
  const problems = new Problems();
  const value = check(problems);
  try {
    problems.throwIfAny();
  } catch (err) {
    for (const problem of (err as ModelgateError).details ?? []) {
      const named = [`${field} `, `${field}.`].find((prefix) => problem.startsWith(prefix));
      p.add(at, named ? problem.slice(named.length) : problem);
    }
  }
  return value;
}

/** The target keys of a grant entry: exactly one names the resource, as the API's grant routes do. */
const GRANT_TARGETS: readonly ResourceType[] = ['infrastructure', 'service', 'secret'];

function accessSections(p: PathProblems, doc: Record<string, unknown>): DesiredAccess {
  const groups = list(p, doc, 'groups', (item, at) => group(p, item, at));
  const grantId = (item: Record<string, unknown>) => {
    const target = GRANT_TARGETS.find((t) => item[t] !== undefined);
    return target ? `${String(item.group)} on ${target} ${String(item[target])}` : undefined;
  };
  const grants = list(p, doc, 'grants', (item, at) => grant(p, item, at), grantId);
  return { groups, grants };
}

function nameList(p: PathProblems, v: unknown, at: string, allowed?: readonly string[]): string[] | undefined {
  const ok =
    Array.isArray(v) && v.every((x) => typeof x === 'string' && (allowed ? allowed.includes(x) : NAME_PATTERN.test(x)));
  if (ok) return [...new Set(v as string[])];
  p.add(at, allowed ? `must be a list of ${allowed.join(', ')}` : 'must be a list of names');
  return undefined;
}

function group(p: PathProblems, raw: unknown, at: string): DesiredGroup | undefined {
  const item = entry(p, raw, at);
  if (!item) return undefined;
  unknownKeys(p, item, at, ['name', 'privileges', 'members']);
  const okName = checkName(p, item.name, `${at}.name`);
  const privileges =
    item.privileges === undefined
      ? undefined
      : (nameList(p, item.privileges, `${at}.privileges`, GLOBAL_PRIVILEGES) as GlobalPrivilege[] | undefined);
  const members = item.members === undefined ? undefined : nameList(p, item.members, `${at}.members`);
  if (!okName) return undefined;
  return {
    name: item.name as string,
    ...(privileges === undefined ? {} : { privileges }),
    ...(members === undefined ? {} : { members }),
  };
}

function grant(p: PathProblems, raw: unknown, at: string): DesiredGrant | undefined {
  const item = entry(p, raw, at);
  if (!item) return undefined;
  unknownKeys(p, item, at, ['group', ...GRANT_TARGETS, 'rights']);
  const okGroup = checkName(p, item.group, `${at}.group`);
  const targets = GRANT_TARGETS.filter((t) => item[t] !== undefined);
  if (targets.length !== 1) {
    p.add(
      at,
      `name exactly one of ${GRANT_TARGETS.join(', ')}${targets.length > 1 ? `, not ${targets.join(' and ')}` : ''}`,
    );
    return undefined;
  }
  const type = targets[0] as ResourceType;
  const resource = item[type];
  const okResource =
    type === 'secret'
      ? typeof resource === 'string' && SECRET_NAME_PATTERN.test(resource)
      : checkName(p, resource, `${at}.${type}`);
  if (type === 'secret' && !okResource) p.add(`${at}.secret`, 'must be a secret name');
  const rights = nameList(p, item.rights, `${at}.rights`, RIGHTS_BY_TYPE[type]);
  if (rights && rights.length === 0)
    p.add(`${at}.rights`, 'must name at least one right (leave the grant out to give none)');
  if (!okGroup || !okResource || !rights || rights.length === 0) return undefined;
  return { group: item.group as string, type, resource: resource as string, rights };
}
