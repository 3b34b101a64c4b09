import type { DeploymentInfo } from '../../controlplane/operations/deployments.js';
import type { AuthSettings } from '../../kernel/auth-settings.js';
import { ModelgateError } from '../../kernel/errors.js';
import { RESOURCE_COLLECTIONS, type ResourceType } from '../../kernel/permissions.js';
import { readAllPages } from '../list-all.js';
import { type CurrentAccess, type CurrentState, deploymentKeys, versionKeys } from './current.js';
import type { Action } from './plan.js';

/** The part of the CLI's management client that the declarative commands use. */
export interface ApiClient {
  request<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
}

interface Named {
  name: string;
  description: string;
}

/**
 * Reads the node's current state over the management API (so the caller's permissions apply):
 * names, settings and API key counts; never a secret value or a key.
 */
export async function fetchCurrentState(
  client: ApiClient,
  options: { access: AccessRead } = { access: 'skip' },
): Promise<CurrentState> {
  const [infra, svc, sec, dep, keys] = await Promise.all([
    readAllPages<{ infrastructures: Named[] }>(client, '/api/v1/infrastructures', 'infrastructures'),
    readAllPages<{ services: Named[] }>(client, '/api/v1/services', 'services'),
    readAllPages<{ secrets: { name: string }[] }>(client, '/api/v1/secrets', 'secrets'),
    readAllPages<{ deployments: DeploymentInfo[] }>(client, '/api/v1/deployments', 'deployments'),
    readAllPages<{ api_keys: { deployment?: string; service?: string; version?: string; state?: string }[] }>(
      client,
      '/api/v1/api-keys',
      'api_keys',
    ),
  ]);
  const versions = await Promise.all(
    svc.services.map((s) =>
      readAllPages<{ versions: { service: string; version: string; auth: AuthSettings }[] }>(
        client,
        `/api/v1/services/${encodeURIComponent(s.name)}/versions`,
        'versions',
      ),
    ),
  );
  const access =
    options.access === 'skip'
      ? undefined
      : await fetchAccess(client, {
          infrastructure: infra.infrastructures.map((i) => i.name),
          service: svc.services.map((x) => x.name),
          secret: sec.secrets.map((x) => x.name),
        }).catch((err: unknown) => {
          // `export` by a caller who is not a global admin: the permissions are not its to write.
          if (options.access === 'if-allowed' && err instanceof ModelgateError && err.code === 'MISSING_GLOBAL_ADMIN')
            return undefined;
          throw err;
        });
  const apiKeyCounts: Record<string, number> = {};
  for (const k of keys.api_keys) {
    // A rolled key is on its way out: its successor is the one that counts (X2).
    if (k.state !== undefined && k.state !== 'active') continue;
    const owner = k.deployment
      ? deploymentKeys(k.deployment)
      : k.service && k.version
        ? versionKeys(k.service, k.version)
        : undefined;
    if (owner) apiKeyCounts[owner] = (apiKeyCounts[owner] ?? 0) + 1;
  }
  return {
    infrastructures: infra.infrastructures.map((i) => ({ name: i.name, description: i.description ?? '' })),
    services: svc.services.map((s) => ({ name: s.name, description: s.description ?? '' })),
    versions: versions.flatMap((v) =>
      v.versions.map((x) => ({ service: x.service, version: x.version, auth: x.auth })),
    ),
    secrets: sec.secrets.map((s) => ({ name: s.name })),
    deployments: dep.deployments,
    apiKeyCounts,
    ...(access ? { access } : {}),
  };
}

/**
 * Whether {@link fetchCurrentState} reads users, groups and grants: `skip` (a version 1 file),
 * `required` (a version 2 file), `if-allowed` (`export`: only when the caller may list groups).
 */
export type AccessRead = 'skip' | 'required' | 'if-allowed';

/** Users (names only), groups and every grant on the named resources. */
async function fetchAccess(client: ApiClient, resources: Record<ResourceType, string[]>): Promise<CurrentAccess> {
  const { groups } = await readAllPages<{ groups: CurrentAccess['groups'][number][] }>(
    client,
    '/api/v1/groups',
    'groups',
  );
  const { users } = await readAllPages<{ users: { username: string }[] }>(client, '/api/v1/users', 'users');
  const targets = (Object.keys(resources) as ResourceType[]).flatMap((type) =>
    resources[type].map((name) => ({ type, name })),
  );
  const grants = await Promise.all(
    targets.map(async ({ type, name }) => {
      const path = `/api/v1/${RESOURCE_COLLECTIONS[type]}/${encodeURIComponent(name)}/grants`;
      const page = await readAllPages<{ grants: { group: string; rights: string[] }[] }>(client, path, 'grants');
      return page.grants.map((g) => ({ group: g.group, type, resource: name, rights: g.rights }));
    }),
  );
  return {
    usernames: users.map((u) => u.username),
    groups: groups.map((g) => ({ name: g.name, privileges: g.privileges, members: g.members })),
    grants: grants.flat(),
  };
}

/**
 * Runs the actions in order, one request at a time; the first failure stops the run (what ran
 * before it stays done, and `diff` then shows what is left). Responses are not kept: they may
 * hold new API keys, which `apply` never prints (`modelgate api-keys reveal` shows them).
 */
export async function runActions(
  client: ApiClient,
  actions: readonly Action[],
  secretValues: ReadonlyMap<string, string>,
): Promise<void> {
  let done = 0;
  for (const a of actions) {
    try {
      for (const req of a.requests) {
        const value = a.secretValueOf === undefined ? undefined : secretValues.get(a.secretValueOf);
        const body = value === undefined ? req.body : { ...req.body, value };
        await client.request(req.method, req.path, body);
      }
    } catch (err) {
      if (!(err instanceof ModelgateError)) throw err;
      throw new ModelgateError(
        err.code,
        `${a.op} ${a.kind} ${a.name} failed after ${done} of ${actions.length} changes were made: ${err.message}`,
        err.details ? { details: err.details } : {},
      );
    }
    done += 1;
  }
}
