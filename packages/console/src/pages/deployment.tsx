import type { JSX } from 'preact';
import { PageTitle } from '../ui';

export function DeploymentPage(props: { name: string }): JSX.Element {
  return <PageTitle>DeploymentPage</PageTitle>;
}
