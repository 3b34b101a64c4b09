import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository README, which tests run parts of verbatim. */
export const README = readFileSync(join(import.meta.dirname, '../../../../README.md'), 'utf8');

/** One README command and the comment lines after it that say what it prints. */
export interface Step {
  command: string;
  expect: string[];
}

/** The lines of the first ```sh block after `heading` (and after `after`, when given). */
export function shellBlock(heading: string, after?: string): string[] {
  const section = README.slice(README.indexOf(heading));
  const start = after === undefined ? 0 : section.indexOf(after);
  const open = section.indexOf('```sh\n', start) + '```sh\n'.length;
  return section.slice(open, section.indexOf('```', open)).trimEnd().split('\n');
}
