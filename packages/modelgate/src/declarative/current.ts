import type { AuthSettings } from '../control/auth-settings.js';
import type { DeploymentInfo } from '../control/deployments.js';

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
}

/** The key of {@link CurrentState.apiKeyCounts} for a deployment's keys. */
export function deploymentKeys(name: string): string {
  return `deployment:${name}`;
}

/** The key of {@link CurrentState.apiKeyCounts} for a service version's keys. */
export function versionKeys(service: string, version: string): string {
  return `version:${service}@${version}`;
}
