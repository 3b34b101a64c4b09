import type { JSX } from 'preact';
import { PageTitle } from '../ui';

export function SecretsPage(): JSX.Element {
  return <PageTitle>SecretsPage</PageTitle>;
}
