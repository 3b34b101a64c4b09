import type { FastifySchemaValidationError } from 'fastify';

/** One schema violation, named by the field it is about. */
export interface ValidationProblem {
  /** The field's path inside its part: `name`, `auth.api_keys`, `groups[0]`; empty for the part itself. */
  readonly field: string;
  /** `body.name is required`, `query.limit must match pattern "..."`, ... */
  readonly text: string;
}

const PARTS: Record<string, string> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

/**
 * Turns ajv's errors for one request part into problems that name the offending field, for the
 * four kinds a caller makes: a missing field, an extra one, a wrong type and a bad format.
 *
 * @example
 * ```ts
 * validationProblems('body', [{ keyword: 'required', instancePath: '', params: { missingProperty: 'name' }, ... }]);
 * // → [{ field: 'name', text: 'body.name is required' }]
 * ```
 */
export function validationProblems(
  context: string | undefined,
  errors: readonly FastifySchemaValidationError[],
): ValidationProblem[] {
  const part = PARTS[context ?? 'body'] ?? 'body';
  return errors.map((e) => {
    const params = e.params as Record<string, unknown>;
    const path = fieldPath(e.instancePath);
    const child = (name: unknown) => (typeof name === 'string' ? joinField(path, name) : path);
    if (e.keyword === 'required') {
      const field = child(params.missingProperty);
      return { field, text: `${located(part, field)} is required` };
    }
    if (e.keyword === 'additionalProperties') {
      const field = child(params.additionalProperty);
      return { field, text: `${located(part, field)} is not allowed here` };
    }
    return { field: path, text: `${located(part, path)} ${e.message ?? 'is invalid'}` };
  });
}

/** `/auth/api_keys` → `auth.api_keys`; `/groups/0` → `groups[0]`. */
function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    out = /^\d+$/.test(segment) ? `${out}[${segment}]` : joinField(out, segment);
  }
  return out;
}

function joinField(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function located(part: string, field: string): string {
  return field === '' ? part : `${part}.${field}`;
}
