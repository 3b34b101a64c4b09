import type { JSX } from 'preact';
import { PageTitle } from '../ui';

export function PeoplePage(): JSX.Element {
  return <PageTitle>PeoplePage</PageTitle>;
}
