import { ModelgateError } from '../../kernel/errors.js';
import { decodeCursor, encodeCursor } from './cursor.js';

/** Items a page when `limit` is not given, and the most a caller may ask for. */
export const PAGE_LIMIT_DEFAULT = 100;
export const PAGE_LIMIT_MAX = 1000;

/** `limit` and `cursor`, as every list route's query string takes them. */
export interface PageQuery {
  readonly limit?: string;
  readonly cursor?: string;
}

/** One page of a list, and where the next one starts (null after the last). */
export interface Page<T> {
  readonly items: T[];
  readonly next_cursor: string | null;
}

/** The query string properties of a paged list (strings: the query is not type-coerced). */
export const pageQueryProperties = {
  limit: {
    type: 'string',
    pattern: '^[0-9]{1,4}$',
    description: `How many items a page holds: 1-${PAGE_LIMIT_MAX}, default ${PAGE_LIMIT_DEFAULT}`,
    examples: ['50'],
  },
  cursor: {
    type: 'string',
    minLength: 1,
    maxLength: 512,
    description: '`next_cursor` of the previous page, unchanged (opaque); same filters as that page',
  },
} as const;

/** The query string of a list that takes nothing but `limit` and `cursor`. */
export const pageQuery = { type: 'object', additionalProperties: false, properties: pageQueryProperties } as const;

/** The page size a query asks for, or VALIDATION_FAILED naming `limit`. */
export function pageLimit(limit: string | undefined): number {
  const value = limit === undefined ? PAGE_LIMIT_DEFAULT : Number(limit);
  if (Number.isInteger(value) && value >= 1 && value <= PAGE_LIMIT_MAX) return value;
  const problem = `limit must be between 1 and ${PAGE_LIMIT_MAX}`;
  throw new ModelgateError('VALIDATION_FAILED', problem, { details: [problem], field: 'limit' });
}

/**
 * One page of `items` in the order of `keyOf` (a unique, stable key such as the name), after
 * the cursor's key: a walk with `next_cursor` sees every item that existed throughout exactly
 * once, even while others are added or deleted.
 *
 * @example
 * ```ts
 * const page = pageOf('deployments', deployments, (d) => d.name, { limit: '50' });
 * return { deployments: page.items, next_cursor: page.next_cursor };
 * ```
 */
export function pageOf<T>(list: string, items: readonly T[], keyOf: (item: T) => string, query: PageQuery): Page<T> {
  const limit = pageLimit(query.limit);
  const after = query.cursor === undefined ? undefined : String(decodeCursor(list, query.cursor).after);
  const sorted = items
    .map((item) => ({ key: keyOf(item), item }))
    .filter((x) => after === undefined || x.key > after)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const page = sorted.slice(0, limit);
  const last = page.at(-1);
  const more = sorted.length > limit && last !== undefined;
  return {
    items: page.map((x) => x.item),
    next_cursor: more ? encodeCursor({ list, after: last.key, order: 'asc' }) : null,
  };
}
