import { isDeepStrictEqual } from 'node:util';
import type { DeploymentInfo } from '../../controlplane/operations/deployments.js';
import { type AuthSettings, DEFAULT_AUTH_SETTINGS, mergeAuthSettings } from '../../kernel/auth-settings.js';
import type { ResourceType } from '../../kernel/permissions.js';
import { describeRateLimit, type RateLimit } from '../../kernel/rate-limit.js';
import { type Action, type ApiRequest, action, api } from './action.js';
import { type CurrentState, deploymentKeys, versionKeys } from './current.js';
import { planAccess } from './plan-access.js';
import type { DesiredDeployment, DesiredSecret, DesiredState } from './schema.js';

export type { Action, ActionKind, ApiRequest } from './action.js';

export interface Plan {
  /** In the order they must run: creations and updates first, then deletions, dependants first. */
  readonly actions: readonly Action[];
  /** Why the file cannot be applied to this node; when any, nothing may run. */
  readonly problems: readonly string[];
  /** Users, groups or resources the file names and nobody has (`APPLY_REFERENCE_UNKNOWN`); nothing may run. */
  readonly unknown: readonly string[];
}

export interface PlanOptions {
  /** Delete what the node has and the file does not name (`--prune`). */
  readonly prune: boolean;
}

/** Description of API keys that `apply` creates, so an operator can tell them apart. */
export const APPLY_KEY_DESCRIPTION = 'created by modelgate apply';

/**
 * The planner: desired state + current state → the ordered actions that make the node match
 * the file, or the problems that prevent it. Pure: no I/O, same input, same plan.
 *
 * Rules: what is missing is created (with `modelgate deploy`'s defaults); what differs is
 * updated; a field the file leaves out is not managed; with `prune`, what the file neither
 * declares nor needs is deleted. API key counts are minimums (never deleted by a plan).
 */
export function planChanges(desired: DesiredState, current: CurrentState, options: PlanOptions): Plan {
  const problems: string[] = [];
  const creates: Action[] = [];
  const updates: Action[] = [];
  const keys: Action[] = [];
  const deletes: Action[] = [];

  // Grow as the plan creates things, so each creation is announced once.
  const infraNames = new Set(current.infrastructures.map((i) => i.name));
  const serviceNames = new Set(current.services.map((s) => s.name));
  const secretNames = new Set(current.secrets.map((s) => s.name));
  const currentVersions = new Map(current.versions.map((v) => [`${v.service}@${v.version}`, v.auth]));
  const desiredVersions = new Map(desired.versions.map((v) => [`${v.service}@${v.version}`, v.auth]));
  const currentDeployments = new Map(current.deployments.map((d) => [d.name, d]));
  const desiredSecrets = new Set(desired.secrets.map((s) => s.name));
  const versionAuth = (service: string, version: string) =>
    currentVersions.get(`${service}@${version}`) ?? desiredVersions.get(`${service}@${version}`);
  const secretKnown = (name: string) => secretNames.has(name) || desiredSecrets.has(name);
  const count = (key: string) => current.apiKeyCounts[key] ?? 0;

  for (const [kind, items, have, existing] of [
    ['infrastructure', desired.infrastructures, infraNames, current.infrastructures],
    ['service', desired.services, serviceNames, current.services],
  ] as const) {
    const collection = kind === 'service' ? 'services' : 'infrastructures';
    const descriptions = new Map(existing.map((x) => [x.name, x.description]));
    for (const item of items) {
      if (have.has(item.name)) {
        // A description left out is not managed; one that differs is updated.
        const now = descriptions.get(item.name);
        if (item.description !== undefined && now !== undefined && item.description !== now) {
          updates.push(
            action(
              'update',
              kind,
              item.name,
              [`description: ${JSON.stringify(now)} → ${JSON.stringify(item.description)}`],
              {
                method: 'PATCH',
                path: api(collection, item.name),
                body: { description: item.description },
              },
            ),
          );
        }
        continue;
      }
      have.add(item.name);
      const body =
        item.description === undefined ? { name: item.name } : { name: item.name, description: item.description };
      creates.push(action('create', kind, item.name, [], { method: 'POST', path: api(collection), body }));
    }
  }

  for (const s of desired.secrets) {
    if (secretNames.has(s.name)) continue;
    const create = createSecret(s);
    if (create) creates.push(create);
    else problems.push(`secrets "${s.name}": not on the node, and no from_env, from_file or value to create it from`);
  }

  for (const v of desired.versions) {
    const id = `${v.service}@${v.version}`;
    const existing = currentVersions.get(id);
    if (existing && !sameAuth(existing, v.auth)) {
      problems.push(
        `services "${v.service}" version "${v.version}": auth ${describeAuth(v.auth)} differs from the node's ${describeAuth(existing)}; versions are immutable: declare a new version`,
      );
    }
    if (!existing) {
      creates.push(
        action('create', 'version', id, [`auth ${describeAuth(v.auth)}`], {
          method: 'POST',
          path: api('services', v.service, 'versions'),
          body: { version: v.version, auth: v.auth },
        }),
      );
    }
    checkSecret(problems, secretKnown, v.auth, `services "${v.service}" version "${v.version}"`);
    const missing = (v.api_keys ?? 0) - (existing ? count(versionKeys(v.service, v.version)) : 0);
    if (missing > 0) keys.push(keysAction(`version ${id}`, missing, { service: v.service, version: v.version }));
  }

  for (const d of desired.deployments) {
    const c = currentDeployments.get(d.name);
    const where = `deployments "${d.name}"`;
    if (!c) {
      const service = d.service ?? d.name;
      const version = d.version ?? '1';
      const fromVersion = versionAuth(service, version);
      creates.push(createDeployment(d, { infraNames, serviceNames, versionAuth }));
      checkSecret(problems, secretKnown, d.auth || fromVersion, where);
      infraNames.add(d.infrastructure ?? 'default');
      serviceNames.add(service);
      if (!fromVersion) desiredVersions.set(`${service}@${version}`, d.auth || DEFAULT_AUTH_SETTINGS);
    } else {
      const update = updateDeployment(d, c, versionAuth, problems);
      if (update) updates.push(update);
      if (d.auth) checkSecret(problems, secretKnown, wantedAuth(d, c, versionAuth), where);
    }
    const missing = (d.api_keys ?? 0) - (c ? count(deploymentKeys(d.name)) : 0);
    if (missing > 0) keys.push(keysAction(`deployment ${d.name}`, missing, { deployment: d.name }));
  }

  if (options.prune) deletes.push(...pruneActions(desired, current));
  if (!desired.access) return { actions: [...creates, ...updates, ...keys, ...deletes], problems, unknown: [] };

  const names: Record<ResourceType, (name: string) => boolean> = {
    infrastructure: (n) => infraNames.has(n),
    service: (n) => serviceNames.has(n),
    secret: secretKnown,
  };
  const deleted = new Set(deletes.map((a) => `${a.kind} ${a.name}`));
  const access = planAccess(
    desired.access,
    current.access ?? { usernames: [], groups: [], grants: [] },
    { known: (type, name) => names[type](name), deleted: (type, name) => deleted.has(`${type} ${name}`) },
    options.prune,
  );
  return {
    actions: [...creates, ...access.creates, ...updates, ...access.updates, ...keys, ...access.deletes, ...deletes],
    problems,
    unknown: access.unknown,
  };
}

// ---------------------------------------------------------------------------------------------

/** The creation of a missing secret; undefined when the file gives no source to create it from. */
function createSecret(s: DesiredSecret): Action | undefined {
  const src = s.source;
  if (src.kind === 'existing') return undefined;
  const from =
    src.kind === 'env' ? `from env ${src.variable}` : src.kind === 'file' ? `from file ${src.path}` : 'inline value';
  return {
    ...action('create', 'secret', s.name, [from], { method: 'POST', path: api('secrets'), body: { name: s.name } }),
    secretValueOf: s.name,
  };
}

function keysAction(owner: string, missing: number, body: Record<string, string>): Action {
  return action('create', 'api-keys', owner, [`${missing} more API key${missing === 1 ? '' : 's'}`], {
    method: 'POST',
    path: api('api-keys'),
    body: { ...body, count: missing, description: APPLY_KEY_DESCRIPTION },
  });
}

/** What an existing deployment would enforce without an auth change: its override, else its (new) version's. */
function enforcedAuth(
  d: DesiredDeployment,
  c: DeploymentInfo,
  versionAuth: (service: string, version: string) => AuthSettings | undefined,
): AuthSettings {
  return c.auth_source === 'override' ? c.auth : (versionAuth(c.service, d.version ?? c.version) ?? c.auth);
}

/**
 * The settings the file asks of an existing deployment: what it would enforce, with the keys the
 * file names changed (what the file leaves out keeps its value); undefined without `auth`.
 */
function wantedAuth(
  d: DesiredDeployment,
  c: DeploymentInfo,
  versionAuth: (service: string, version: string) => AuthSettings | undefined,
): AuthSettings | undefined {
  if (!d.auth) return undefined;
  return mergeAuthSettings(enforcedAuth(d, c, versionAuth), d.authNamed ?? d.auth);
}

/** Whether two validated auth settings are the same, the external issuer's settings included. */
export function sameAuth(a: AuthSettings, b: AuthSettings): boolean {
  return (
    a.basic_secret === b.basic_secret &&
    a.api_keys === b.api_keys &&
    a.forward_credential === b.forward_credential &&
    isDeepStrictEqual(a.credentials ?? null, b.credentials ?? null) &&
    // Both sides went through parseOidcSettings (defaults filled in); key order does not matter.
    isDeepStrictEqual(a.oidc ?? null, b.oidc ?? null)
  );
}

/** Auth settings for a plan line; OIDC settings hold no secret, so they are shown whole. */
export function describeAuth(a: AuthSettings): string {
  const oidc = a.oidc ? `, oidc: ${JSON.stringify(a.oidc)}` : '';
  const credentials = a.credentials ? `, credentials: [${a.credentials.join(', ')}]` : '';
  return `{basic_secret: ${a.basic_secret ?? 'null'}, api_keys: ${a.api_keys}, forward_credential: ${a.forward_credential}${oidc}${credentials}}`;
}

/**
 * A Basic secret must be declared or already exist: otherwise the deploy path would generate
 * one and hand its value back, which `apply` must not print.
 */
function checkSecret(
  problems: string[],
  known: (name: string) => boolean,
  auth: AuthSettings | undefined,
  where: string,
): void {
  const name = auth?.basic_secret;
  if (name && !known(name)) {
    problems.push(`${where}: auth.basic_secret "${name}" is neither in the file's secrets nor on the node`);
  }
}

function createDeployment(
  d: DesiredDeployment,
  known: {
    infraNames: ReadonlySet<string>;
    serviceNames: ReadonlySet<string>;
    versionAuth: (service: string, version: string) => AuthSettings | undefined;
  },
): Action {
  const { api_keys: _count, auth, authNamed: _named, ...rest } = d;
  // `auth: null` on creation is what `deploy` does without auth: follow the version.
  const body = auth ? { ...rest, auth } : rest;
  const infra = d.infrastructure ?? 'default';
  const service = d.service ?? d.name;
  const version = d.version ?? '1';
  // What the deploy path will create on the way, named so the plan hides nothing.
  const along = [
    ...(known.infraNames.has(infra) ? [] : [`infrastructure ${infra}`]),
    ...(known.serviceNames.has(service) ? [] : [`service ${service}`]),
    ...(known.versionAuth(service, version) ? [] : [`version ${service}@${version}`]),
  ];
  const changes = [
    `upstream ${d.upstream}`,
    ...(d.access ? [`access ${d.access}`] : []),
    ...(d.enabled === false ? ['disabled'] : []),
    ...(d.auth ? [`auth ${describeAuth(d.auth)}`] : []),
    ...(d.rate_limit ? [`rate limit ${describeRateLimit(d.rate_limit)}`] : []),
    ...(along.length > 0 ? [`also creates ${along.join(', ')}`] : []),
  ];
  return action('create', 'deployment', d.name, changes, { method: 'POST', path: api('deployments'), body });
}

function updateDeployment(
  d: DesiredDeployment,
  c: DeploymentInfo,
  versionAuth: (service: string, version: string) => AuthSettings | undefined,
  problems: string[],
): Action | undefined {
  const where = `deployments "${d.name}"`;
  for (const field of ['infrastructure', 'service'] as const) {
    const want = d[field];
    if (want !== undefined && want !== c[field]) {
      problems.push(
        `${where}: ${field} is ${c[field]} on the node, the file says ${want}; a deployment cannot move: give it a new name (and --prune the old one)`,
      );
    }
  }
  const patch: Record<string, unknown> = {};
  const changes: string[] = [];
  const change = (field: string, from: string, to: string, value: unknown) => {
    patch[field] = value;
    changes.push(`${field}: ${from} → ${to}`);
  };
  if (d.upstream !== c.upstream) change('upstream', c.upstream, d.upstream, d.upstream);
  if (d.access !== undefined && d.access !== c.access) change('access', c.access, d.access, d.access);
  if (d.version !== undefined && d.version !== c.version) {
    if (!versionAuth(c.service, d.version)) {
      problems.push(`${where}: version "${d.version}" of service ${c.service} is neither in the file nor on the node`);
    }
    change('version', c.version, d.version, d.version);
  }
  if (d.rate_limit !== undefined && !isDeepStrictEqual(d.rate_limit, c.rate_limit ?? null)) {
    const shown = (limit: RateLimit | null) => (limit ? describeRateLimit(limit) : 'none');
    change('rate_limit', shown(c.rate_limit ?? null), shown(d.rate_limit), d.rate_limit);
  }
  const want = wantedAuth(d, c, versionAuth);
  if (want) {
    const after = enforcedAuth(d, c, versionAuth);
    if (!sameAuth(after, want)) change('auth', describeAuth(after), describeAuth(want), want);
  } else if (d.auth === null && c.auth_source === 'override') {
    change('auth', `override ${describeAuth(c.auth)}`, "the version's settings", null);
  }
  const requests: ApiRequest[] = [];
  if (changes.length > 0) requests.push({ method: 'PATCH', path: api('deployments', d.name), body: patch });
  if (d.enabled !== undefined && d.enabled !== c.enabled) {
    changes.push(`enabled: ${c.enabled} → ${d.enabled}`);
    requests.push({ method: 'POST', path: api('deployments', d.name, d.enabled ? 'enable' : 'disable') });
  }
  return requests.length === 0 ? undefined : action('update', 'deployment', d.name, changes, ...requests);
}

/**
 * Deletions for `--prune`: everything the file neither declares nor needs. What a kept
 * deployment uses (its infrastructure, service, version, Basic secret) counts as needed, so a
 * short-form file keeps the `default` infrastructure and the services `deploy` made.
 */
function pruneActions(desired: DesiredState, current: CurrentState): Action[] {
  const currentDeployments = new Map(current.deployments.map((d) => [d.name, d]));
  const keptDeployments = new Set(desired.deployments.map((d) => d.name));
  const keptVersions = new Set(desired.versions.map((v) => `${v.service}@${v.version}`));
  const keptServices = new Set(desired.services.map((s) => s.name));
  const keptInfras = new Set(desired.infrastructures.map((i) => i.name));
  const keptSecrets = new Set(desired.secrets.map((s) => s.name));
  const currentVersionAuth = new Map(current.versions.map((v) => [`${v.service}@${v.version}`, v.auth]));
  const desiredVersionAuth = new Map(desired.versions.map((v) => [`${v.service}@${v.version}`, v.auth]));
  const versionAuth = (service: string, version: string) =>
    currentVersionAuth.get(`${service}@${version}`) ?? desiredVersionAuth.get(`${service}@${version}`);

  for (const d of desired.deployments) {
    const c = currentDeployments.get(d.name);
    const service = d.service ?? c?.service ?? d.name;
    const version = d.version ?? c?.version ?? '1';
    keptVersions.add(`${service}@${version}`);
    keptServices.add(service);
    keptInfras.add(d.infrastructure ?? c?.infrastructure ?? 'default');
    // `auth: null` follows the version, whose secret is kept with the version below.
    const auth = d.auth === null ? undefined : c ? (wantedAuth(d, c, versionAuth) ?? c.auth) : d.auth;
    if (auth?.basic_secret) keptSecrets.add(auth.basic_secret);
  }
  for (const v of desired.versions) if (v.auth.basic_secret) keptSecrets.add(v.auth.basic_secret);
  for (const id of keptVersions) {
    keptServices.add(id.slice(0, id.indexOf('@')));
    const secret = currentVersionAuth.get(id)?.basic_secret;
    if (secret) keptSecrets.add(secret);
  }

  const out: Action[] = [];
  for (const d of current.deployments) {
    if (!keptDeployments.has(d.name))
      out.push(
        action('delete', 'deployment', d.name, ['and its API keys'], {
          method: 'DELETE',
          path: api('deployments', d.name),
        }),
      );
  }
  for (const v of current.versions) {
    const id = `${v.service}@${v.version}`;
    if (!keptVersions.has(id)) {
      out.push(
        action('delete', 'version', id, ['and its API keys'], {
          method: 'DELETE',
          path: api('services', v.service, 'versions', v.version),
        }),
      );
    }
  }
  for (const s of current.services) {
    if (!keptServices.has(s.name))
      out.push(action('delete', 'service', s.name, [], { method: 'DELETE', path: api('services', s.name) }));
  }
  for (const i of current.infrastructures) {
    if (!keptInfras.has(i.name))
      out.push(
        action('delete', 'infrastructure', i.name, [], { method: 'DELETE', path: api('infrastructures', i.name) }),
      );
  }
  for (const s of current.secrets) {
    if (!keptSecrets.has(s.name))
      out.push(action('delete', 'secret', s.name, [], { method: 'DELETE', path: api('secrets', s.name) }));
  }
  return out;
}
