import { randomBase62 } from './credential.js';
import { leadingField, ModelgateError } from './errors.js';

/** Deployment, service and infrastructure names: one DNS label, so they fit a path and a Host. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function newId(prefix: string): string {
  return `${prefix}_${randomBase62(14)}`;
}

/** Collects problems, then throws them all at once as VALIDATION_FAILED. */
export class Problems {
  private readonly list: string[] = [];

  check(ok: boolean, problem: string): this {
    if (!ok) this.list.push(problem);
    return this;
  }

  throwIfAny(): void {
    if (this.list.length > 0) {
      throw new ModelgateError('VALIDATION_FAILED', this.list.join('; '), {
        details: this.list,
        field: leadingField(this.list[0]),
      });
    }
  }
}

export function checkName(problems: Problems, field: string, value: unknown): void {
  problems.check(
    typeof value === 'string' && NAME_PATTERN.test(value),
    `${field} must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit`,
  );
}

export function checkVersion(problems: Problems, value: unknown): void {
  problems.check(typeof value === 'string' && VERSION_PATTERN.test(value), 'version must be 1-64 of A-Z a-z 0-9 . _ -');
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
  );
  if (!url) return;
  problems.check(url.username === '' && url.password === '', 'upstream must not carry credentials');
  problems.check(url.search === '' && url.hash === '', 'upstream must not have a query or fragment');
}

export function notFound(what: string, name: string): ModelgateError {
  return new ModelgateError('RESOURCE_NOT_FOUND', `No ${what} named "${name}"`);
}

export function conflict(what: string, name: string): ModelgateError {
  return new ModelgateError('RESOURCE_CONFLICT', `A ${what} named "${name}" already exists`);
}
