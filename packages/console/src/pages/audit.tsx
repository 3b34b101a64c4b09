import type { JSX } from 'preact';
import { PageTitle } from '../ui';

export function AuditPage(): JSX.Element {
  return <PageTitle>AuditPage</PageTitle>;
}
