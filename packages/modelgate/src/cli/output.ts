import { ModelgateError } from '../errors/registry.js';

/**
 * Prints a failure as one readable block on stderr and returns the exit status. Unexpected
 * errors print their message only; a stack trace is for `--verbose`, not for users.
 */
export function reportFailure(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof ModelgateError) {
    stderr.write(`modelgate: ${err.message} [${err.code}]\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`modelgate: unexpected error: ${message} [INTERNAL]\n`);
  return 1;
}
