import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { ModelgateError } from '../kernel/errors.js';
import { replacePrivateFile } from '../store/secrets/private-file.js';

/** A saved login: where the management API is and the token that opens it. */
export interface LoginContext {
  readonly name: string;
  readonly endpoint: string;
  readonly api_token: string;
  /** A PEM CA file for an `https://` endpoint, saved by `login --cacert`. */
  readonly cacert?: string;
}

/** `contexts.json`: every saved context and the name of the current one (null: none). */
export interface ContextsFile {
  readonly current_context: string | null;
  readonly contexts: readonly LoginContext[];
}

export const EMPTY_CONTEXTS: ContextsFile = { current_context: null, contexts: [] };

/** Context names: short, shell- and file-friendly. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The name `login` saves under when `--context` is not given (BentoML's default too). */
export const DEFAULT_CONTEXT_NAME = 'default';

/**
 * Where the contexts live: `$XDG_CONFIG_HOME/modelgate/contexts.json`, else
 * `~/.config/modelgate/contexts.json` (a relative XDG_CONFIG_HOME is ignored, as the XDG spec says).
 *
 * @example
 * ```ts
 * contextsPath({ XDG_CONFIG_HOME: '/home/a/.cfg' }, '/home/a'); // '/home/a/.cfg/modelgate/contexts.json'
 * ```
 */
export function contextsPath(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.config');
  return join(base, 'modelgate', 'contexts.json');
}

/** A usage error unless `name` is a valid context name. */
export function checkContextName(name: string): string {
  if (!NAME.test(name)) {
    throw new ModelgateError(
      'CLI_USAGE',
      'a context name is 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
    );
  }
  return name;
}

/** Validates the parsed file; any problem is CLI_CONTEXTS_FILE_INVALID naming the file (never a token). */
export function parseContextsFile(text: string, path: string): ContextsFile {
  const invalid = (why: string) =>
    new ModelgateError(
      'CLI_CONTEXTS_FILE_INVALID',
      `${path}: ${why}; fix it, or delete it and run \`modelgate login\` again`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as ContextsFile).contexts)) {
    throw invalid('expected {"current_context": ..., "contexts": [...]}');
  }
  const { current_context: current, contexts } = parsed as { current_context?: unknown; contexts: unknown[] };
  const seen = new Set<string>();
  const checked = contexts.map((entry, i) => {
    const c = entry as Partial<Record<keyof LoginContext, unknown>> | null;
    if (typeof c !== 'object' || c === null) throw invalid(`contexts[${i}] is not an object`);
    for (const key of ['name', 'endpoint', 'api_token'] as const) {
      if (typeof c[key] !== 'string' || c[key] === '')
        throw invalid(`contexts[${i}].${key} must be a non-empty string`);
    }
    if (c.cacert !== undefined && typeof c.cacert !== 'string') throw invalid(`contexts[${i}].cacert must be a string`);
    if (seen.has(c.name as string)) throw invalid(`contexts[${i}].name "${c.name}" appears twice`);
    seen.add(c.name as string);
    return {
      name: c.name as string,
      endpoint: c.endpoint as string,
      api_token: c.api_token as string,
      ...(c.cacert === undefined ? {} : { cacert: c.cacert as string }),
    };
  });
  if (current !== null && current !== undefined && (typeof current !== 'string' || !seen.has(current))) {
    throw invalid('current_context names no saved context');
  }
  return { current_context: (current as string | null | undefined) ?? null, contexts: checked };
}

/** The current context, or undefined when none is current. */
export function currentContext(file: ContextsFile): LoginContext | undefined {
  return file.contexts.find((c) => c.name === file.current_context);
}

/** Adds or replaces a context by name and makes it current. */
export function saveContext(file: ContextsFile, context: LoginContext): ContextsFile {
  const others = file.contexts.filter((c) => c.name !== context.name);
  return { current_context: context.name, contexts: [...others, context] };
}

/** Makes a saved context current; CLI_CONTEXT_NOT_FOUND when there is none of that name. */
export function useContext(file: ContextsFile, name: string): ContextsFile {
  if (!file.contexts.some((c) => c.name === name)) throw notFound(file, name);
  return { ...file, current_context: name };
}

/**
 * Removes a context. When it was the current one, no context is current afterwards: the CLI
 * never silently switches to another endpoint; `modelgate contexts use NAME` picks one.
 */
export function deleteContext(file: ContextsFile, name: string): ContextsFile {
  if (!file.contexts.some((c) => c.name === name)) throw notFound(file, name);
  return {
    current_context: file.current_context === name ? null : file.current_context,
    contexts: file.contexts.filter((c) => c.name !== name),
  };
}

function notFound(file: ContextsFile, name: string): ModelgateError {
  const names = file.contexts.map((c) => c.name);
  return new ModelgateError(
    'CLI_CONTEXT_NOT_FOUND',
    `no login context named "${name}"; ${names.length > 0 ? `saved: ${names.join(', ')}` : 'none saved: run `modelgate login`'}`,
  );
}

// ---------------------------------------------------------------------------------------------
// File I/O, at the edge.

/** Reads the contexts file; a missing one is empty. */
export function readContextsFile(path: string): ContextsFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return EMPTY_CONTEXTS;
    throw new ModelgateError('CLI_CONTEXTS_FILE_INVALID', `${path} cannot be read (${code ?? 'error'})`);
  }
  return parseContextsFile(text, path);
}

/**
 * Writes the contexts file atomically with mode 0600, in a `modelgate` directory of mode 0700
 * (created when missing, tightened when not): it holds tokens.
 */
export function writeContextsFile(path: string, file: ContextsFile): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  replacePrivateFile(path, `${JSON.stringify(file, null, 2)}\n`);
}
