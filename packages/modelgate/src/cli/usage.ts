import type { Command } from 'commander';

/** The command's words after `modelgate`, e.g. `['deployments', 'update']`; none for the root. */
export function commandWords(command: Command): string[] {
  const words: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) words.unshift(c.name());
  return words;
}

/** The one-line usage of a command, e.g. `modelgate deployments show [options] <name>`. */
export function usageLine(command: Command): string {
  return ['modelgate', ...commandWords(command), command.usage()].join(' ');
}

/** Where to read about a command, printed under a usage error instead of the whole help. */
export function helpHint(command: Command): string {
  return `see \`${['modelgate', ...commandWords(command), '--help'].join(' ')}\``;
}

/** Calls `visit` on a command and every command below it, parents first. */
export function forEachCommand(command: Command, visit: (command: Command) => void): void {
  visit(command);
  for (const sub of command.commands) forEachCommand(sub, visit);
}

/**
 * Whether the raw arguments ask for `-o json` (`-o json`, `-ojson`, `--output json`,
 * `--output=json`): a usage error found while parsing is printed before commander has options.
 */
export function jsonRequested(args: readonly string[]): boolean {
  return args.some(
    (arg, i) =>
      arg === '-ojson' || arg === '--output=json' || ((arg === '-o' || arg === '--output') && args[i + 1] === 'json'),
  );
}
