import { Option } from 'commander';
import { ModelgateError } from '../errors/registry.js';

/**
 * Prints a failure as one readable block on stderr and returns the exit status. Unexpected
 * errors print their message only; a stack trace is for `--verbose`, not for users.
 */
export function reportFailure(err: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  if (err instanceof ModelgateError) {
    // The code goes on the first line, so a multi-line message (config problems) reads cleanly.
    const [first, ...rest] = err.message.split('\n');
    stderr.write(`modelgate: ${first} [${err.code}]\n${rest.map((line) => `${line}\n`).join('')}`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  stderr.write(`modelgate: unexpected error: ${message} [INTERNAL]\n`);
  return 1;
}

/** `-o, --output table|json`, the same on every command that prints results. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
}

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints human output on stdout, with a final newline. */
export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
