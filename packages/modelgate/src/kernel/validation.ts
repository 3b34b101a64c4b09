import { randomBase62 } from './credential.js';
import { ModelgateError } from './errors.js';

/** Deployment, service and infrastructure names: one DNS label, so they fit a path and a Host. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Who may call a deployment: anyone (`public`), or callers with a credential it accepts. */
export const ACCESS_VALUES = ['public', 'protected'] as const;
export type Access = (typeof ACCESS_VALUES)[number];

/** Whether a value is one of {@link ACCESS_VALUES}. */
export function isAccess(value: unknown): value is Access {
  return (ACCESS_VALUES as readonly unknown[]).includes(value);
}

/** The longest description anything takes (services, infrastructures, API keys, API tokens). */
export const DESCRIPTION_MAX = 1024;
/** What is wrong with a description that breaks the rule, after its field name. */
export const DESCRIPTION_RULE = `must be a string of at most ${DESCRIPTION_MAX} characters`;

/** Whether a value is a description by {@link DESCRIPTION_MAX}. */
export function isDescription(value: unknown): value is string {
  return typeof value === 'string' && value.length <= DESCRIPTION_MAX;
}

/** Checks a description (the field is `description` unless named). */
export function checkDescription(problems: Problems, value: unknown, field = 'description'): void {
  problems.check(isDescription(value), `${field} ${DESCRIPTION_RULE}`, field);
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(14)}`;
}

/**
 * Collects problems, then throws them all at once as VALIDATION_FAILED. Each problem may name the
 * field it is about; the error's `field` is the first problem's, carried as data.
 *
 * @example
 * ```ts
 * const problems = new Problems();
 * problems.check(count >= 1, 'count must be at least 1', 'count');
 * problems.throwIfAny(); // VALIDATION_FAILED, field 'count'
 * ```
 */
export class Problems {
  private readonly list: { readonly problem: string; readonly field: string | undefined }[] = [];

  check(ok: boolean, problem: string, field?: string): this {
    if (!ok) this.list.push({ problem, field });
    return this;
  }

  throwIfAny(): void {
    if (this.list.length > 0) {
      const details = this.list.map((p) => p.problem);
      throw new ModelgateError('VALIDATION_FAILED', details.join('; '), { details, field: this.list[0]?.field });
    }
  }
}

export function checkName(problems: Problems, field: string, value: unknown): void {
  problems.check(
    typeof value === 'string' && NAME_PATTERN.test(value),
    `${field} must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit`,
    field,
  );
}

export function checkVersion(problems: Problems, value: unknown): void {
  problems.check(
    typeof value === 'string' && VERSION_PATTERN.test(value),
    'version must be 1-64 of A-Z a-z 0-9 . _ -',
    'version',
  );
}

/**
 * An upstream must be a plain http(s) base URL: no credentials in it (they would be logged and
 * shown), no query or fragment.
 */
export function checkUpstream(problems: Problems, value: unknown): void {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  problems.check(
    url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:'),
    'upstream must be an http:// or https:// URL',
    'upstream',
  );
  if (!url) return;
  problems.check(url.username === '' && url.password === '', 'upstream must not carry credentials', 'upstream');
  problems.check(url.search === '' && url.hash === '', 'upstream must not have a query or fragment', 'upstream');
}

export function notFound(what: string, name: string): ModelgateError {
  return new ModelgateError('RESOURCE_NOT_FOUND', `No ${what} named "${name}"`);
}

export function conflict(what: string, name: string): ModelgateError {
  return new ModelgateError('RESOURCE_CONFLICT', `A ${what} named "${name}" already exists`);
}
