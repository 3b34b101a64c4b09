import type { DeploymentInfo } from '../../controlplane/operations/deployments.js';
import type { AuthSettings } from '../../kernel/auth-settings.js';
import type { GlobalPrivilege, ResourceType } from '../../kernel/permissions.js';

/**
 * What the node holds now, as the management API shows it: names and settings, never a
 * secret value or an API key (only how many keys each owner has).
 */
export interface CurrentState {
  readonly infrastructures: readonly { readonly name: string; readonly description: string }[];
  readonly services: readonly { readonly name: string; readonly description: string }[];
  readonly versions: readonly { readonly service: string; readonly version: string; readonly auth: AuthSettings }[];
  readonly secrets: readonly { readonly name: string }[];
  readonly deployments: readonly DeploymentInfo[];
  /** API key counts: `deployment:NAME` or `version:SERVICE@VERSION` → how many. */
  readonly apiKeyCounts: Readonly<Record<string, number>>;
  /**
   * Users, groups and grants; read only when the file is version 2, or for `export` when the
   * caller may list groups (global admins). Undefined: not read, and not managed.
   */
  readonly access?: CurrentAccess;
}

/** The permissions on the node, as `GET /api/v1/users`, `/groups` and `.../grants` show them. */
export interface CurrentAccess {
  readonly usernames: readonly string[];
  readonly groups: readonly {
    readonly name: string;
    readonly privileges: readonly GlobalPrivilege[];
    readonly members: readonly string[];
  }[];
  readonly grants: readonly {
    readonly group: string;
    readonly type: ResourceType;
    readonly resource: string;
    readonly rights: readonly string[];
  }[];
}

/** The key of {@link CurrentState.apiKeyCounts} for a deployment's keys. */
export function deploymentKeys(name: string): string {
  return `deployment:${name}`;
}

/** The key of {@link CurrentState.apiKeyCounts} for a service version's keys. */
export function versionKeys(service: string, version: string): string {
  return `version:${service}@${version}`;
}
