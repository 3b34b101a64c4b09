import type { AuthSettings } from '../../kernel/auth-settings.js';
import { type CurrentState, deploymentKeys, versionKeys } from './current.js';

/**
 * The environment variable an exported secret names as its source: `MODELGATE_SECRET_` and the
 * name in capitals, other characters as `_` (`demo-password` → `MODELGATE_SECRET_DEMO_PASSWORD`).
 */
export function secretVariable(name: string): string {
  return `MODELGATE_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * The node's state as a declarative file (the full form), for `modelgate export`. Pure.
 * Secrets appear by name with a `from_env` source and no value: applying the export to the
 * same node changes nothing (existing secrets are not rewritten), and on a new node the named
 * variables supply the values. API keys appear as counts. Groups (with their privileges and
 * members) and grants appear when the node has any and the caller could read them (version 2).
 */
export function exportState(current: CurrentState): Record<string, unknown> {
  const count = (key: string) => current.apiKeyCounts[key] ?? 0;
  const described = <T extends { name: string; description: string }>(x: T) =>
    x.description === '' ? { name: x.name } : { name: x.name, description: x.description };
  const access = current.access;
  // Version 2 only when there are permissions to write: a node without groups exports a file
  // that a CLI reading only version 1 still applies.
  const withAccess = access !== undefined && (access.groups.length > 0 || access.grants.length > 0);
  return {
    version: withAccess ? 2 : 1,
    infrastructures: current.infrastructures.map(described),
    services: current.services.map((s) => ({
      ...described(s),
      versions: current.versions
        .filter((v) => v.service === s.name)
        .map((v) => {
          const keys = count(versionKeys(v.service, v.version));
          return { version: v.version, auth: exportedAuth(v.auth), ...(keys > 0 ? { api_keys: keys } : {}) };
        }),
    })),
    secrets: current.secrets.map((s) => ({ name: s.name, from_env: secretVariable(s.name) })),
    deployments: current.deployments.map((d) => {
      const keys = count(deploymentKeys(d.name));
      return {
        name: d.name,
        upstream: d.upstream,
        access: d.access,
        infrastructure: d.infrastructure,
        service: d.service,
        version: d.version,
        enabled: d.enabled,
        // An override is the deployment's own; null says it follows its version.
        auth: d.auth_source === 'override' ? exportedAuth(d.auth) : null,
        ...(d.rate_limit ? { rate_limit: d.rate_limit } : {}),
        ...(keys > 0 ? { api_keys: keys } : {}),
      };
    }),
    ...(withAccess
      ? {
          groups: access.groups.map((g) => ({ name: g.name, privileges: [...g.privileges], members: [...g.members] })),
          grants: access.grants.map((x) => ({ group: x.group, [x.type]: x.resource, rights: [...x.rights] })),
        }
      : {}),
  };
}

/** Auth settings as a file says them: without a `credentials` list when every kind is taken (the default). */
function exportedAuth(auth: AuthSettings): Omit<AuthSettings, 'credentials'> & { credentials?: readonly string[] } {
  const { credentials, ...rest } = auth;
  return credentials === null ? rest : { ...rest, credentials };
}
