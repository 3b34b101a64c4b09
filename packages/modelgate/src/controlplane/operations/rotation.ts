import { ModelgateError } from '../../kernel/errors.js';

/** The 409 for rolling a credential that was rolled already: roll its successor instead. */
export function alreadyRolled(what: string, id: string): ModelgateError {
  return new ModelgateError(
    'CREDENTIAL_ALREADY_ROLLED',
    `The ${what} "${id}" was rolled already; roll its successor, or delete it to end it now`,
  );
}
