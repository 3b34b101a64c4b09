import type { JSX } from 'preact';

/** The deployment's traffic over the last hour (filled in with the node's per-deployment ring). */
export function DeploymentChart(_props: { name: string }): JSX.Element | null {
  return null;
}
