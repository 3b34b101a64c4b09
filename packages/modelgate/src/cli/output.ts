import { Option } from 'commander';
import { ModelgateError } from '../kernel/errors.js';
import { ApiRequestError } from './api-error.js';

/** A failure as the CLI shows it: `-o json` prints exactly this under `error`. */
export interface FailureReport {
  readonly code: string;
  readonly message: string;
  /** The HTTP status, when the management API refused the request. */
  readonly status?: number;
  readonly details?: readonly string[];
  /** For usage errors: the command's one-line usage, and where to read more. */
  readonly usage?: string;
  readonly hint?: string;
}

/** How the running command wants failures printed, and the usage to show with a usage error. */
export interface FailureFormat {
  readonly json: boolean;
  readonly usage?: string | undefined;
  readonly hint?: string | undefined;
}

let current: FailureFormat = { json: false };

/**
 * Records how failures of this invocation are printed: main sets `json` from the arguments
 * before parsing, then the command's own `--output` and usage once commander knows the command.
 */
export function setFailureFormat(format: Partial<FailureFormat>): void {
  current = { ...current, ...format };
}

/** The report of any thrown value; the message of an unexpected error only (no stack trace). */
export function describeFailure(err: unknown, format: FailureFormat = current): FailureReport {
  if (!(err instanceof ModelgateError)) {
    return { code: 'INTERNAL', message: `unexpected error: ${err instanceof Error ? err.message : String(err)}` };
  }
  const usage = err.code === 'CLI_USAGE' && format.usage ? { usage: format.usage, hint: format.hint } : {};
  return {
    code: err instanceof ApiRequestError ? err.shownCode : err.code,
    message: err.message,
    ...(err instanceof ApiRequestError ? { status: err.httpStatus } : {}),
    ...(err.details && err.details.length > 0 ? { details: err.details } : {}),
    ...usage,
  };
}

/**
 * The text form: `error [CODE]: message`, one code per error; further lines of the message
 * (every problem of a config file) follow indented, then a usage error's usage line and hint.
 */
export function renderFailureText(report: FailureReport): string {
  const [first, ...rest] = report.message.split('\n');
  const lines = [`error [${report.code}]: ${first}`, ...rest.map((line) => (/^\s/.test(line) ? line : `  ${line}`))];
  if (report.usage) lines.push(`usage: ${report.usage}`);
  if (report.hint) lines.push(report.hint);
  return `${lines.join('\n')}\n`;
}

/**
 * Prints a failure on stderr, as text or (with `-o json`) as `{"error":{"code","message",...}}`,
 * and returns the exit status: the code's (2 for usage, 1 otherwise).
 *
 * @example
 * ```ts
 * process.exitCode = reportFailure(new ModelgateError('CLI_USAGE', '--value is empty'));
 * // stderr: error [CLI_USAGE]: --value is empty
 * ```
 */
export function reportFailure(
  err: unknown,
  format: FailureFormat = current,
  stderr: NodeJS.WritableStream = process.stderr,
): number {
  const report = describeFailure(err, format);
  stderr.write(format.json ? `${JSON.stringify({ error: report })}\n` : renderFailureText(report));
  return err instanceof ModelgateError ? err.exitCode : 1;
}

/** A warning on stderr, in the same two formats as failures. */
export function warn(message: string, format: FailureFormat = current): void {
  process.stderr.write(format.json ? `${JSON.stringify({ warning: { message } })}\n` : `warning: ${message}\n`);
}

/** `-o, --output table|json`, the same on every command that prints results. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
}

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Prints a list the one way every list command does with `-o json`: `{"items":[...]}`, with any
 * facts about the whole list (`current`, `owner`, `next_cursor`) beside `items`.
 */
export function printList(items: readonly unknown[], extra: Record<string, unknown> = {}): void {
  printJson({ items, ...extra });
}

/** Prints human output on stdout, with a final newline. */
export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/**
 * Prints a credential a command just made: the credential alone on stdout, so that
 * `T=$(modelgate tokens create ...)` captures exactly it, and what to know about it on stderr.
 */
export function printCredential(credential: string, details: string): void {
  printText(credential);
  process.stderr.write(details.endsWith('\n') ? details : `${details}\n`);
}
