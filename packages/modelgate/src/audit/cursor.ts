import { ModelgateError } from '../errors/registry.js';
import type { AuditPosition } from '../store/audit.js';

/**
 * Encodes a page position as an opaque cursor. Callers pass it back unchanged; its shape may
 * change between versions.
 */
export function encodeCursor(position: Required<AuditPosition>): string {
  return Buffer.from(JSON.stringify({ o: position.order, id: position.after })).toString('base64url');
}

/** Decodes a cursor from `encodeCursor`, or throws VALIDATION_FAILED. */
export function decodeCursor(cursor: string): Required<AuditPosition> {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown; id?: unknown };
    if ((value.o === 'asc' || value.o === 'desc') && Number.isSafeInteger(value.id) && (value.id as number) >= 0) {
      return { order: value.o, after: value.id as number };
    }
  } catch {
    // Falls through to the one error below.
  }
  throw new ModelgateError('VALIDATION_FAILED', 'cursor is not a cursor this API returned');
}
