import { ModelgateError } from '../../kernel/errors.js';

/** Where a page ends: the list it belongs to, the sort key of its last item, and the order. */
export interface CursorPosition {
  /** Which list the cursor walks (`deployments`, `audit`, ...): a cursor of another list is refused. */
  readonly list: string;
  /** Sort key of the last item returned; the next page starts strictly after it. */
  readonly after: string | number;
  readonly order: 'asc' | 'desc';
}

/**
 * Encodes a page position as an opaque cursor (base64url JSON). Callers pass it back unchanged;
 * its shape may change between versions.
 *
 * @example
 * ```ts
 * const next = encodeCursor({ list: 'deployments', after: 'sentiment', order: 'asc' });
 * decodeCursor('deployments', next); // → { list: 'deployments', after: 'sentiment', order: 'asc' }
 * ```
 */
export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify({ l: position.list, a: position.after, o: position.order })).toString('base64url');
}

/**
 * Decodes a cursor that `encodeCursor` made for `list`, or throws VALIDATION_FAILED naming the
 * `cursor` field (a cursor of another list, a forged or a truncated one).
 */
export function decodeCursor(list: string, cursor: string): CursorPosition {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      l?: unknown;
      a?: unknown;
      o?: unknown;
    };
    const after = value.a;
    const validAfter =
      (typeof after === 'string' && after.length > 0 && after.length <= 256) ||
      (typeof after === 'number' && Number.isSafeInteger(after) && after >= 0);
    if (value.l === list && validAfter && (value.o === 'asc' || value.o === 'desc')) {
      return { list, after: after as string | number, order: value.o };
    }
  } catch {
    // Falls through to the one error below.
  }
  throw invalidCursor();
}

/** The one error for a cursor this list did not return (forged, truncated, of another list). */
export function invalidCursor(): ModelgateError {
  const problem = 'cursor is not a cursor this list returned; start again without it';
  return new ModelgateError('VALIDATION_FAILED', problem, { details: [problem], field: 'cursor' });
}
