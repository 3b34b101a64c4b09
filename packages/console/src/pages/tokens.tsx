import type { JSX } from 'preact';
import { PageTitle } from '../ui';

export function TokensPage(): JSX.Element {
  return <PageTitle>TokensPage</PageTitle>;
}
